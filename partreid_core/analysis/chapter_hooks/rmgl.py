"""Analysis hooks of the rmgl chapter (registered into partreid_core.engine.hooks.HOOKS) — to be written."""
