"""Service levels: which plan covers a ticket (plans.py) and its clocks in working time
(clocks.py). Pure: settings and calendars in, values out; the store is read and written by
the SLA job (gateway/service/sla.py) and the pipeline."""
