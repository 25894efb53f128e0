"""The NumPy engine: no web imports (tests/engine/test_isolation.py checks every module).

Rooms:
- layers/    each layer type's forward math and derivative side by side (activations, initializers),
             and layers as classes with forward and backward (dense, pointwise, norm, residual)
- network/   an experiment's configuration, cost, inputs, forward and backward passes, its result;
             layer networks (architecture, blocks, block_experiment, block_theory) for norms and
             residual blocks
- measure/   functions of arrays: histograms and statistics, unit counts and profiles
- training/  trainings on the MNIST subset or synthetic data (networks, records, data sets)
- paths/     optimizer paths on 2-D test surfaces
Beside them: theory.py (mean-field predictions), optimizers.py (shared by training and paths),
params.py (parameter specifications), blas.py (one BLAS thread).
"""
