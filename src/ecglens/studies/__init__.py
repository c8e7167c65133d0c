"""Studies: seeded experiments that train, score and explain many models and write a table
(Markdown) and its rows (JSON) -- ``ecglens benchmark mitdb|mi|images|explanations``.

One module per study: :mod:`~ecglens.studies.mitdb` (the inter-patient ablation grid),
:mod:`~ecglens.studies.mi` (the MI learning curve), :mod:`~ecglens.studies.images` (the
printout-image models) and :mod:`~ecglens.studies.explanations` (every explainer on the
shipped models). A study may import train, evaluate, explain, plot and report; only the
command line imports a study.
"""
