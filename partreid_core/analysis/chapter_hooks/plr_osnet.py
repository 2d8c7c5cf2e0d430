"""Analysis hooks of the plr_osnet chapter (registered into partreid_core.engine.hooks.HOOKS) — to be written."""
