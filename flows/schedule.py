"""`newsmon serve`: every watch's poll and digest schedules, served from this one process.

The embedded default. Beyond one machine, use `prefect deploy --all` with prefect.yaml and run
`prefect worker start` wherever there is capacity (README, "Deployment").
"""

from __future__ import annotations

from prefect import serve
from prefect.schedules import Cron

from flows.digest import send_digest
from flows.poll import poll_feeds
from flows.settings import Settings


def serve_watches(settings: Settings, *, limit: int = 4) -> None:
    config = str(settings.path)
    deployments = []
    for watch in settings.watch:
        parameters = {"watch": watch.name, "config": config}
        deployments.append(
            poll_feeds.to_deployment(
                name=watch.name,
                schedule=Cron(watch.poll, timezone=watch.timezone),
                parameters=parameters,
                concurrency_limit=1,  # an overlapping poll would only race the first
                tags=["newsmon", watch.name],
            )
        )
        deployments.append(
            send_digest.to_deployment(
                name=watch.name,
                schedule=Cron(watch.digest, timezone=watch.timezone),
                parameters=parameters,
                concurrency_limit=1,
                tags=["newsmon", watch.name],
            )
        )
    # pause_on_shutdown=False: stopping this process must not silently pause the schedules.
    serve(*deployments, pause_on_shutdown=False, limit=limit)
