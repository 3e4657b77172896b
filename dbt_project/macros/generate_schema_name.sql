{#- A custom schema (`+schema: analytics`) is used verbatim instead of dbt's `<target>_<custom>` default. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{- (custom_schema_name if custom_schema_name is not none else target.schema) | trim -}}
{%- endmacro %}
