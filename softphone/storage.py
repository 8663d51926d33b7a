from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed static files; a file missing from the manifest (tests, a forgotten
    collectstatic) is served by its plain name instead of failing the page."""

    manifest_strict = False
