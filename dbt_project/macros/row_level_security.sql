{#-
  Post-hook of the marts: row-level security by project (gmp_assets/sql/002_row_level_security.sql)
  on a model with a project_key column, (re)applied after every build since a first build or a
  full refresh creates the table anew. Models without project_key (reference data) are left alone.
-#}
{% macro project_row_level_security() -%}
    {%- if execute and 'project_key' in (adapter.get_columns_in_relation(this) | map(attribute='name') | list) -%}
        select access.enable_project_rls('{{ this }}'::regclass)
    {%- endif -%}
{%- endmacro %}
