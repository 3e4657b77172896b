{#-
  Scope of an incremental rebuild, from the vars `project_key`, `month_start` and `month_end`
  (ISO dates; each is truncated to its month; both bounds are inclusive). Unset vars do not restrict.
  `project_key` is one key, or a list of keys (a batch of projects built in one run).
-#}

{#- The scoped project keys (a list, each checked), or none when the var is unset. -#}
{% macro scope_project_keys() -%}
    {%- set value = var('project_key', none) -%}
    {%- if value is none -%}{{ return(none) }}{%- endif -%}
    {%- set keys = [value] if value is string else value -%}
    {%- if keys is not iterable or keys is mapping or keys | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "var project_key must be a project key or a non-empty list of them, got: " ~ value
        ) }}
    {%- endif -%}
    {%- for key in keys -%}
        {%- if not modules.re.fullmatch('[A-Za-z0-9_-]{1,40}', key | string) -%}
            {{ exceptions.raise_compiler_error(
                "var project_key must be 1-40 characters of A-Z a-z 0-9 _ -, got: " ~ key
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {{- return(keys | map('string') | list) -}}
{%- endmacro %}

{#- The one scoped project key, or none when the var is unset; an error when it lists several. -#}
{% macro scope_project_key() -%}
    {%- set keys = scope_project_keys() -%}
    {%- if keys is not none and keys | length > 1 -%}
        {{ exceptions.raise_compiler_error("var project_key lists several projects; use scope_project_keys()") }}
    {%- endif -%}
    {{- return(none if keys is none else keys[0]) -}}
{%- endmacro %}

{% macro scope_month(name) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none -%}{{ return(none) }}{%- endif -%}
    {%- set text = value | string -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be an ISO date YYYY-MM-DD, got: " ~ text) }}
    {%- endif -%}
    {{- return(modules.datetime.date.fromisoformat(text).replace(day=1).isoformat()) -}}
{%- endmacro %}

{#- SQL predicate selecting the rows in the vars' scope (`true` when no var is set). -#}
{% macro scope_predicate(project_column='project_key', month_column=none) -%}
    {%- set conditions = [] -%}
    {%- set keys = scope_project_keys() -%}
    {%- if keys is not none and keys | length == 1 -%}
        {%- do conditions.append(project_column ~ " = '" ~ keys[0] ~ "'") -%}
    {%- elif keys is not none -%}
        {%- do conditions.append(project_column ~ " in ('" ~ keys | join("', '") ~ "')") -%}
    {%- endif -%}
    {%- if month_column is not none -%}
        {%- set first = scope_month('month_start') -%}
        {%- set last = scope_month('month_end') -%}
        {%- if first is not none -%}
            {%- do conditions.append(month_column ~ " >= date '" ~ first ~ "'") -%}
        {%- endif -%}
        {%- if last is not none -%}
            {%- do conditions.append(month_column ~ " <= date '" ~ last ~ "'") -%}
        {%- endif -%}
    {%- endif -%}
    {{- conditions | join(' and ') if conditions else 'true' -}}
{%- endmacro %}

{#- The scope predicate in an incremental run; `true` on a first build or a --full-refresh. -#}
{% macro incremental_scope(project_column='project_key', month_column=none) -%}
    {{- scope_predicate(project_column, month_column) if is_incremental() else 'true' -}}
{%- endmacro %}

{#-
  Pre-hook of the incremental marts: removes every existing row in scope, inside the model's transaction,
  so delete+insert then only has to insert. With a `spine` (the relation that lists every
  project x trade x month that exists upstream), it also removes the scoped projects' rows that are no
  longer on it, in any month: the months and trades a corrected file or a remapped division took away.
-#}
{% macro delete_incremental_scope(month_column=none, spine=none) -%}
    {%- if is_incremental() -%}
        {%- set scope = scope_predicate('target.project_key', 'target.' ~ month_column if month_column else none) -%}
        delete from {{ this }} as target where {{ scope }}
        {%- if spine is not none %}
            or ({{ scope_predicate('target.project_key') }} and not exists (
                select 1 from {{ spine }} as spine
                where spine.project_key = target.project_key
                    and spine.canonical_code = target.canonical_code
                    and spine.{{ month_column }} = target.{{ month_column }}
            ))
        {%- endif %}
    {%- endif %}
{%- endmacro %}
