"""What happened, source by source: the demo's generators.

Each module draws one source's events (survey responses, feedback actions, upsell and finance,
employee pulse, readiness assessments, the planted flaws) from the story and a seeded generator;
the formats in `pipelines.demo.formats` lay them out as the tools export them.
"""
