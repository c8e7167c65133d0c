"""Model inputs: one module per model family turns a record into the arrays its models take
(``beats``: one lead cut into beats; ``twelve_lead``: a whole 12-lead record), used alike by
training, evaluation and inference; ``leads`` matches lead names for all of them."""
