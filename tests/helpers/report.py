"""The report CSV header the docs fix, shared by the report tests."""

SPEC_HEADER = (
    "owner_type,owner_id,owner_name,metric,period,period_start,period_end,as_of,target,expected_to_date,"
    "actual_to_date,attainment,pace,gap_to_date,remaining,working_days_elapsed,working_days_left,"
    "required_per_working_day,current_per_working_day,acceleration,best_per_working_day,"
    "projection_linear,projection_seasonal,status,point_of_no_return,working_days_to_act,action_coverage,"
    "pipeline,weighted_pipeline,overdue_pipeline,pipeline_coverage,weighted_coverage,"
    "projection_with_pipeline,uncovered_gap,chance_to_reach"
)
