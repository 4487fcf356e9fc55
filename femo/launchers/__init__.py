"""Launchers: how a run's shards get executed (local worker processes, SLURM, SGE)."""
