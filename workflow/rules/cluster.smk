# Cluster execution (workflow/profiles/slurm): steps that take a second or two and little memory
# run on the submitting node instead of waiting in the Slurm queue. No effect on local runs.


localrules:
    all,
    facts,
    charts,
    quotes,
