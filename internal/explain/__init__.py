"""Why a HelmRelease is not Ready: one causal answer, decided by a pure function.

`facts` holds what the caller read (the release, its source chain, Helm storage's newest status,
its dependencies' own answers, the pods of a failed action, a health-checked object); `chain`
walks the causes in order and returns the first that blocks Ready as an `answer.Answer`. Nothing
here does I/O: `controller/cli/why.py` gathers the facts and prints the answer.
"""
