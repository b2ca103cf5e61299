"""Customer value: the indicator hierarchy, AHP weights, scoring, segments and strategies.

Pure core: numpy, pandas, scipy and scikit-learn only; nothing here reads or writes a file.
Heavy modules are imported by the submodules that need them, so ``import xlcrm.value.ahp``
stays light (a worksheet function's first call waits for it).
"""
