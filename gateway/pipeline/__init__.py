"""The pipeline: one message, one outcome. `work.py` holds the types, one module per step
(classify, thread, screen, route, acknowledge, notify), what the steps work on (tickets,
threads, changes), and `runner.py` the one list of steps. A step never imports the
runner or another step."""
