"""Stage wiring: settings, configuration file, scheduler, pipeline and the `policybot` CLI."""
