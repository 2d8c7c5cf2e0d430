"""Analysis hooks of the cgpn chapter (registered into partreid_core.engine.hooks.HOOKS) — to be written."""
