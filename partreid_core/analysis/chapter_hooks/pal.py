"""Analysis hooks of the pal chapter (registered into partreid_core.engine.hooks.HOOKS) — to be written."""
