{#- Whole calendar months from the month of `start_expr` to the month of `end_expr` (0 when equal). -#}
{% macro months_between(start_expr, end_expr) -%}
    ((extract(year from {{ end_expr }}) - extract(year from {{ start_expr }})) * 12
     + extract(month from {{ end_expr }}) - extract(month from {{ start_expr }}))::integer
{%- endmacro %}
