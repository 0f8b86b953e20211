"""How the dashboard says things, one module per job.

- `status`: the colours, dots and words of every status label, and a unit's gate as shown;
- `formatting`: numbers, intervals, periods, timestamps, ages and durations as people read them;
- `text`: text from outside made safe to show (markdown escaped, contacts masked);
- `tables`: tables whose numbers stay numbers, labels coloured, CSV downloads without formulas;
- `tree`: the outcome tree as a Graphviz graph;
- `drilldown`: behind every number, the responses behind a measure value;
- `frame`: every page's frame (header, and the states before a snapshot can be read).
"""
