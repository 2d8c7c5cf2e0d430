"""Analysis hooks of the mpn chapter (registered into partreid_core.engine.hooks.HOOKS) — to be written."""
