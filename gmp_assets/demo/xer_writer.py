"""Render one Primavera P6 XER progress update (the tables a P6 export carries for a schedule).

Tables and field lists follow a real P6 8.x export: ``ERMHDR``, then ``CALENDAR``, ``PROJECT``,
``SCHEDOPTIONS``, ``PROJWBS``, optionally ``ACTVTYPE``/``ACTVCODE``, ``TASK``, optionally
``TASKACTV``, and ``%E``. Each ``%T`` table has a ``%F`` field line and ``%R`` rows, tab separated;
dates are ``YYYY-MM-DD HH:MM``. The file is meant to be written as Windows-1252 with CRLF lines.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

_FIELDS = {
    "CALENDAR": "clndr_id default_flag clndr_name proj_id base_clndr_id last_chng_date clndr_type "
    "day_hr_cnt week_hr_cnt month_hr_cnt year_hr_cnt rsrc_private clndr_data",
    "PROJECT": "proj_id fy_start_month_num rsrc_self_add_flag allow_complete_flag rsrc_multi_assign_flag "
    "checkout_flag project_flag step_complete_flag cost_qty_recalc_flag batch_sum_flag "
    "name_sep_char def_complete_pct_type proj_short_name acct_id orig_proj_id source_proj_id "
    "base_type_id clndr_id sum_base_proj_id task_code_base task_code_step priority_num "
    "wbs_max_sum_level strgy_priority_num last_checksum critical_drtn_hr_cnt def_cost_per_qty "
    "last_recalc_date plan_start_date plan_end_date scd_end_date add_date last_tasksum_date "
    "fcst_start_date def_duration_type task_code_prefix guid def_qty_type add_by_name "
    "web_local_root_path proj_url def_rate_type add_act_remain_flag act_this_per_link_flag "
    "def_task_type act_pct_link_flag critical_path_type task_code_prefix_flag "
    "def_rollup_dates_flag use_project_baseline_flag rem_target_link_flag reset_planned_flag "
    "allow_neg_act_flag sum_assign_level last_fin_dates_id last_baseline_update_date "
    "cr_external_key apply_actuals_date location_id loaded_scope_level export_flag "
    "new_fin_dates_id baselines_to_export baseline_names_to_export next_data_date "
    "close_period_flag sum_refresh_date trsrcsum_loaded",
    "SCHEDOPTIONS": "schedoptions_id proj_id sched_outer_depend_type sched_open_critical_flag "
    "sched_lag_early_start_flag sched_retained_logic sched_setplantoforecast "
    "sched_float_type sched_calendar_on_relationship_lag sched_use_expect_end_flag "
    "sched_progress_override level_float_thrs_cnt level_outer_assign_flag "
    "level_outer_assign_priority level_over_alloc_pct level_within_float_flag "
    "level_keep_sched_date_flag level_all_rsrc_flag sched_use_project_end_date_for_float "
    "enable_multiple_longest_path_calc limit_multiple_longest_path_calc "
    "max_multiple_longest_path use_total_float_multiple_longest_paths "
    "key_activity_for_multiple_longest_paths LevelPriorityList",
    "PROJWBS": "wbs_id proj_id obs_id seq_num est_wt proj_node_flag sum_data_flag status_code "
    "wbs_short_name wbs_name phase_id parent_wbs_id ev_user_pct ev_etc_user_value orig_cost "
    "indep_remain_total_cost ann_dscnt_rate_pct dscnt_period_type indep_remain_work_qty "
    "anticip_start_date anticip_end_date ev_compute_type ev_etc_compute_type guid tmpl_guid "
    "plan_open_state",
    "ACTVTYPE": "actv_code_type_id actv_short_len seq_num actv_code_type proj_id wbs_id actv_code_type_scope",
    "ACTVCODE": "actv_code_id parent_actv_code_id actv_code_type_id actv_code_name short_name seq_num "
    "color total_assignments",
    "TASK": "task_id proj_id wbs_id clndr_id phys_complete_pct rev_fdbk_flag est_wt lock_plan_flag "
    "auto_compute_act_flag complete_pct_type task_type duration_type status_code task_code "
    "task_name rsrc_id total_float_hr_cnt free_float_hr_cnt remain_drtn_hr_cnt act_work_qty "
    "remain_work_qty target_work_qty target_drtn_hr_cnt target_equip_qty act_equip_qty "
    "remain_equip_qty cstr_date act_start_date act_end_date late_start_date late_end_date "
    "expect_end_date early_start_date early_end_date restart_date reend_date target_start_date "
    "target_end_date rem_late_start_date rem_late_end_date cstr_type priority_type suspend_date "
    "resume_date float_path float_path_order guid tmpl_guid cstr_date2 cstr_type2 "
    "driving_path_flag act_this_per_work_qty act_this_per_equip_qty external_early_start_date "
    "external_late_end_date create_date update_date create_user update_user location_id",
    "TASKACTV": "task_id actv_code_type_id actv_code_id proj_id",
}

# A five-day, 8-hour week (07:00-16:00 with a lunch hour), as P6 stores it.
_WORKDAY = "(0||0(s|07:00|f|12:00)())(0||1(s|13:00|f|16:00)())"
_CALENDAR_DATA = (
    "(0||CalendarData()(  (0||DaysOfWeek()("
    + "".join(f"(0||{d}()({'' if d in (1, 7) else _WORKDAY}))" for d in range(1, 8))
    + "))  (0||VIEW(ShowTotal|N)())  (0||Exceptions()()))"
)
_HOURS_PER_DAY = 8
_PROJ_ID, _CLNDR_ID, _ACTV_TYPE_ID = "4100", "597", "112"
_EXPORT_LAG = timedelta(days=3)  # exports are made a few days after the data date


@dataclass(frozen=True)
class XerTask:
    """One activity at one data date: baseline dates, current dates, and progress."""

    code: str
    name: str
    wbs_name: str
    target_start: date
    target_end: date
    start: date  # actual start when started, else the current early start
    end: date  # actual finish when complete, else the current early finish
    percent: float  # 0-100, the physical or duration percent per ``pct_type``
    pct_type: str  # CP_Phys or CP_Drtn
    division_code: str | None = None  # value of the header's activity code type, if any


@dataclass(frozen=True)
class XerHeader:
    """Project-level values of one export."""

    short_name: str
    name: str
    data_date: date
    plan_start: date
    version: str
    user: str
    activity_code_type: str | None  # e.g. ``CSI Division``, the type of the tasks' ``division_code``


def _dt(value: date | None, hour: int = 8) -> str:
    return "" if value is None else f"{value:%Y-%m-%d} {hour:02d}:00"


def _guid(*parts: str) -> str:
    digest = hashlib.md5("|".join(parts).encode()).digest()
    return base64.b64encode(digest).decode()[:22]


def _workdays(start: date, end: date) -> int:
    days = (end - start).days + 1
    return max(1, round(days * 5 / 7))


def _table(name: str, rows: list[dict[str, str]]) -> list[str]:
    fields = _FIELDS[name].split()
    lines = [f"%T\t{name}", "%F\t" + "\t".join(fields)]
    lines += ["%R\t" + "\t".join(row.get(f, "") for f in fields) for row in rows]
    return lines


def _task_row(task: XerTask, task_id: int, wbs_id: str, header: XerHeader) -> dict[str, str]:
    complete, started = task.percent >= 100, task.percent > 0
    status = "TK_Complete" if complete else "TK_Active" if started else "TK_NotStart"
    target_hours = _workdays(task.target_start, task.target_end) * _HOURS_PER_DAY
    remaining = 0.0 if complete else _workdays(max(task.start, header.data_date), task.end) * _HOURS_PER_DAY
    if task.pct_type == "CP_Drtn" and started:
        # P6 derives the duration percent from remaining vs original duration.
        remaining = round(target_hours * (1 - task.percent / 100), 2)
    physical = task.percent if task.pct_type == "CP_Phys" else 0
    return {
        "task_id": str(task_id),
        "proj_id": _PROJ_ID,
        "wbs_id": wbs_id,
        "clndr_id": _CLNDR_ID,
        "phys_complete_pct": f"{physical:g}",
        "rev_fdbk_flag": "N",
        "est_wt": "1",
        "lock_plan_flag": "N",
        "auto_compute_act_flag": "N",
        "complete_pct_type": task.pct_type,
        "task_type": "TT_Task",
        "duration_type": "DT_FixedDUR2",
        "status_code": status,
        "task_code": task.code,
        "task_name": task.name,
        "total_float_hr_cnt": "" if complete else "0",
        "free_float_hr_cnt": "" if complete else "0",
        "remain_drtn_hr_cnt": f"{remaining:g}",
        "act_work_qty": "0",
        "remain_work_qty": "0",
        "target_work_qty": "0",
        "target_drtn_hr_cnt": str(target_hours),
        "target_equip_qty": "0",
        "act_equip_qty": "0",
        "remain_equip_qty": "0",
        "act_start_date": _dt(task.start) if started else "",
        "act_end_date": _dt(task.end, 17) if complete else "",
        "late_start_date": "" if complete else _dt(task.start),
        "late_end_date": "" if complete else _dt(task.end, 17),
        "early_start_date": "" if started else _dt(task.start),
        "early_end_date": "" if complete else _dt(task.end, 17),
        "restart_date": "" if complete else _dt(max(task.start, header.data_date)),
        "reend_date": "" if complete else _dt(task.end, 17),
        "target_start_date": _dt(task.target_start),
        "target_end_date": _dt(task.target_end, 17),
        "rem_late_start_date": "" if complete else _dt(max(task.start, header.data_date)),
        "rem_late_end_date": "" if complete else _dt(task.end, 17),
        "priority_type": "PT_Normal",
        "guid": _guid(header.short_name, task.code),
        "driving_path_flag": "N",
        "act_this_per_work_qty": "0",
        "act_this_per_equip_qty": "0",
        "create_date": _dt(header.plan_start, 9),
        "update_date": _dt(header.data_date, 17),
        "create_user": header.user,
        "update_user": header.user,
    }


def render_xer(header: XerHeader, tasks: list[XerTask]) -> str:
    """The text of one XER export holding ``tasks`` under one WBS node per distinct ``wbs_name``."""
    wbs_names = list(dict.fromkeys(t.wbs_name for t in tasks))
    root_id = 9000
    wbs_ids = {name: str(root_id + i + 1) for i, name in enumerate(wbs_names)}
    wbs_rows = [
        {
            "wbs_id": str(root_id),
            "proj_id": _PROJ_ID,
            "obs_id": "565",
            "seq_num": "0",
            "est_wt": "1",
            "proj_node_flag": "Y",
            "sum_data_flag": "N",
            "status_code": "WS_Open",
            "wbs_short_name": header.short_name,
            "wbs_name": header.name,
            "parent_wbs_id": "",
            "ev_compute_type": "EC_Cmp_pct",
            "ev_etc_compute_type": "EE_Rem_hr",
            "guid": _guid(header.short_name),
        }
    ]
    wbs_rows += [
        {
            **wbs_rows[0],
            "wbs_id": wbs_id,
            "seq_num": str(10 * (i + 1)),
            "proj_node_flag": "N",
            "wbs_short_name": f"W{i + 1:02d}",
            "wbs_name": name,
            "parent_wbs_id": str(root_id),
            "guid": _guid(header.short_name, name),
        }
        for i, (name, wbs_id) in enumerate(wbs_ids.items())
    ]
    project = {
        "proj_id": _PROJ_ID,
        "fy_start_month_num": "1",
        "rsrc_self_add_flag": "Y",
        "allow_complete_flag": "Y",
        "rsrc_multi_assign_flag": "Y",
        "checkout_flag": "N",
        "project_flag": "Y",
        "step_complete_flag": "N",
        "cost_qty_recalc_flag": "N",
        "batch_sum_flag": "Y",
        "name_sep_char": ".",
        "def_complete_pct_type": "CP_Phys",
        "proj_short_name": header.short_name,
        "clndr_id": _CLNDR_ID,
        "task_code_base": "1000",
        "task_code_step": "10",
        "priority_num": "10",
        "wbs_max_sum_level": "2",
        "strgy_priority_num": "500",
        "critical_drtn_hr_cnt": "0",
        "def_cost_per_qty": "0.0000",
        "last_recalc_date": _dt(header.data_date, 0),
        "plan_start_date": _dt(header.plan_start),
        "plan_end_date": "",
        "scd_end_date": _dt(max(t.end for t in tasks), 17),
        "add_date": _dt(header.plan_start, 9),
        "def_duration_type": "DT_FixedDUR2",
        "task_code_prefix": "A",
        "guid": _guid(header.short_name, "project"),
        "def_qty_type": "QT_Hour",
        "add_by_name": header.user,
        "def_rate_type": "COST_PER_QTY",
        "add_act_remain_flag": "N",
        "act_this_per_link_flag": "Y",
        "def_task_type": "TT_Task",
        "act_pct_link_flag": "N",
        "critical_path_type": "CT_TotFloat",
        "task_code_prefix_flag": "Y",
        "def_rollup_dates_flag": "Y",
        "use_project_baseline_flag": "Y",
        "rem_target_link_flag": "Y",
        "reset_planned_flag": "N",
        "allow_neg_act_flag": "N",
        "sum_assign_level": "SL_Taskrsrc",
        "loaded_scope_level": "7",
        "export_flag": "Y",
    }
    options = {
        "schedoptions_id": "1",
        "proj_id": _PROJ_ID,
        "sched_outer_depend_type": "SD_Both",
        "sched_open_critical_flag": "N",
        "sched_lag_early_start_flag": "Y",
        "sched_retained_logic": "Y",
        "sched_setplantoforecast": "N",
        "sched_float_type": "FT_FF",
        "sched_calendar_on_relationship_lag": "rcal_Predecessor",
        "sched_use_expect_end_flag": "Y",
        "sched_progress_override": "N",
        "level_float_thrs_cnt": "0",
        "level_outer_assign_flag": "N",
        "level_outer_assign_priority": "5",
        "level_over_alloc_pct": "25",
        "level_within_float_flag": "N",
        "level_keep_sched_date_flag": "Y",
        "level_all_rsrc_flag": "Y",
        "sched_use_project_end_date_for_float": "Y",
        "enable_multiple_longest_path_calc": "N",
        "limit_multiple_longest_path_calc": "Y",
        "max_multiple_longest_path": "10",
        "use_total_float_multiple_longest_paths": "Y",
        "LevelPriorityList": "priority_type,ASC",
    }
    calendar = {
        "clndr_id": _CLNDR_ID,
        "default_flag": "Y",
        "clndr_name": "Standard 5 Day Workweek",
        "last_chng_date": _dt(header.plan_start, 9),
        "clndr_type": "CA_Base",
        "day_hr_cnt": str(_HOURS_PER_DAY),
        "week_hr_cnt": str(5 * _HOURS_PER_DAY),
        "month_hr_cnt": "172",
        "year_hr_cnt": "2000",
        "rsrc_private": "N",
        "clndr_data": _CALENDAR_DATA,
    }
    lines = [
        f"ERMHDR\t{header.version}\t{header.data_date + _EXPORT_LAG:%Y-%m-%d}\tProject\t"
        f"{header.user}\t{header.user}\tdbxDatabaseNoName\tProject Management\tUSD"
    ]
    lines += _table("CALENDAR", [calendar]) + _table("PROJECT", [project])
    lines += _table("SCHEDOPTIONS", [options]) + _table("PROJWBS", wbs_rows)
    task_rows = [_task_row(t, 20000 + i, wbs_ids[t.wbs_name], header) for i, t in enumerate(tasks)]
    if header.activity_code_type:
        values = dict.fromkeys(t.division_code for t in tasks)
        code_ids = {name: str(700 + i) for i, name in enumerate(values)}
        lines += _table(
            "ACTVTYPE",
            [
                {
                    "actv_code_type_id": _ACTV_TYPE_ID,
                    "actv_short_len": "40",
                    "seq_num": "1",
                    "actv_code_type": header.activity_code_type,
                    "proj_id": _PROJ_ID,
                    "actv_code_type_scope": "AS_Project",
                }
            ],
        )
        lines += _table(
            "ACTVCODE",
            [
                {
                    "actv_code_id": cid,
                    "actv_code_type_id": _ACTV_TYPE_ID,
                    "actv_code_name": name,
                    "short_name": f"D{i + 1:02d}",
                    "seq_num": str(i + 1),
                    "color": "0000FF",
                    "total_assignments": str(sum(t.division_code == name for t in tasks)),
                }
                for i, (name, cid) in enumerate(code_ids.items())
            ],
        )
        lines += _table("TASK", task_rows)
        lines += _table(
            "TASKACTV",
            [
                {
                    "task_id": row["task_id"],
                    "actv_code_type_id": _ACTV_TYPE_ID,
                    "actv_code_id": code_ids[t.division_code],
                    "proj_id": _PROJ_ID,
                }
                for row, t in zip(task_rows, tasks)
            ],
        )
    else:
        lines += _table("TASK", task_rows)
    return "\r\n".join(lines + ["%E", ""])
