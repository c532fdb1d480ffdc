# Reference values for cscvault.analysis.models.imputation.rubin (Rubin's rules, Barnard-Rubin df).
# Run:  Rscript tests/reference/robust/rubin_reference.R [OUT.csv]
# Needs Debian r-base-core and r-cran-mice; writes rubin_reference.csv next to this script (or OUT.csv).
suppressPackageStartupMessages(library(mice))

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(script)) dirname(normalizePath(script)) else "tests/reference/robust"
trailing <- commandArgs(trailingOnly = TRUE)
out_file <- if (length(trailing)) trailing[1] else file.path(here, "rubin_reference.csv")

cases <- list(
  list(id = "a", q = c(1.0, 1.2, 0.9), u = c(0.04, 0.05, 0.045), n = 52, k = 2),
  list(id = "b", q = c(-0.31, -0.27, -0.35, -0.29, -0.33, -0.30, -0.28, -0.36, -0.32, -0.26),
       u = c(0.011, 0.012, 0.010, 0.011, 0.013, 0.012, 0.011, 0.010, 0.012, 0.011), n = 5000, k = 20),
  list(id = "c", q = c(0.5, 0.1, 0.9, 0.3, 0.7), u = c(0.2, 0.25, 0.22, 0.18, 0.21), n = 30, k = 5)
)
rows <- lapply(cases, function(cs) {
  p <- pool.scalar(Q = cs$q, U = cs$u, n = cs$n, k = cs$k)
  data.frame(case = cs$id, m = p$m, df_complete = cs$n - cs$k, qbar = p$qbar, ubar = p$ubar, b = p$b,
             t = p$t, df = p$df, riv = p$r, fmi = p$fmi,
             q = paste(cs$q, collapse = ";"), u = paste(cs$u, collapse = ";"))
})
write.csv(do.call(rbind, rows), out_file, row.names = FALSE)
cat(sprintf("R %s, mice %s\n", getRversion(), packageVersion("mice")))
