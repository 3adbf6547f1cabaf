"""One ``APIRouter`` per audience, each included by ``web.app.create_app``: ``health`` (probes),
``public`` (the front page), ``rater`` (/rate/…), ``reviewer`` (/review/…) and ``coordinator``
(/coordinator/…, every page behind the signed-in coordinator except signing in)."""
