"""The paper's side studies, run by the workflow beside the pruning benchmarks.

* :mod:`snacs.studies.speed`: wall time of scoring one layer pair with SNACS and MINT,
  the measurement behind the paper's "over 17x faster" claim (docs/method.md);
* :mod:`snacs.studies.estimator_accuracy`: bias and MSE of the ACMI estimator against
  closed-form Gaussian values (docs/method.md).

Each study separates the measurement (slow, written once as a raw CSV) from its
summary tables, so tables and figures are rebuilt from the CSV without re-measuring.
"""
