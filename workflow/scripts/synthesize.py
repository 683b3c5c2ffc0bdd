"""Rule synthesize_main: write a SYNTHETIC main survey of n records with the project's generator."""

from parentlink.synth import write_main

sm = snakemake  # type: ignore[name-defined] # noqa: F821

write_main(sm.output[0], n=int(sm.wildcards.n))
