{#-
  What a generic test reads: in a scoped build (var `project_key` set: one project's or a batch's models, or
  their months), only that project's rows of a model that has a `project_key` column, so another
  project's bad row cannot fail this project's run (its own build fails instead), plus the rows of no
  project (a null key, which no project's build would report otherwise). Unscoped builds, and models
  without the column (the taxonomy), are tested whole; so is an ephemeral model, whose columns cannot
  be looked up. A row of a project with no projects row fails that project's build, or an unscoped
  one. A test's own `where` config still applies. Overrides dbt's macro of the same name, which only
  applies `where`.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if execute and scope_project_keys() is not none -%}
        {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
        {%- if 'project_key' in columns -%}
            {%- do conditions.append('(' ~ scope_predicate() ~ ' or project_key is null)') -%}
        {%- endif -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
