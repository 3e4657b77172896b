{#- Fails for every non-null value outside [min_value, max_value]; either bound may be omitted. -#}
{% test value_between(model, column_name, min_value=none, max_value=none) %}
{%- set outside = [] -%}
{%- do outside.append(column_name ~ ' < ' ~ min_value) if min_value is not none -%}
{%- do outside.append(column_name ~ ' > ' ~ max_value) if max_value is not none -%}
{%- do exceptions.raise_compiler_error("value_between needs min_value, max_value or both") if not outside -%}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null and ({{ outside | join(' or ') }})
{% endtest %}
