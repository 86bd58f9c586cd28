"""perfmodel: the performance model of a baton training step behind bench/perf_model.py (MODELLED, not
measured). What bench/dist_model.py builds on is re-exported here."""
from .constants import BUILTIN_CONFIGS, CELL_GATES, DEFAULT_VERSIONS, DRAM_EFF, GPUS
from .model import Model
from .timing import simulate

__all__ = ['BUILTIN_CONFIGS', 'CELL_GATES', 'DEFAULT_VERSIONS', 'DRAM_EFF', 'GPUS', 'Model', 'simulate']
