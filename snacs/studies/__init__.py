"""The paper's side studies, run by the workflow beside the pruning benchmarks.

* :mod:`snacs.studies.speed`: wall time of scoring one layer pair with SNACS and MINT,
  the measurement behind the paper's "over 17x faster" claim (docs/method.md), and
  :mod:`snacs.studies.whole_speed`, the same for the pruners' whole scoring step;
* :mod:`snacs.studies.estimator_accuracy`: bias and MSE of the ACMI estimator against
  closed-form Gaussian values (:mod:`snacs.studies.gaussian_cases`, docs/method.md);
* :mod:`snacs.studies.layer_compression`: per-layer pruned share of the chosen runs.

Studies measure and write data (raw CSVs and their summaries); ``snacs.report`` turns
them into tables, notes, figures and verdicts, so those are rebuilt without re-measuring.
"""
