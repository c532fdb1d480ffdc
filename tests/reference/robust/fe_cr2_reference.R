# Reference values for cscvault.analysis.models.robust (CR2 + Satterthwaite df for a fixed-effects logit).
# Run:  Rscript tests/reference/robust/fe_cr2_reference.R [OUT.csv]
# Needs Debian r-base-core and r-cran-clubsandwich; writes fe_cr2_reference.csv next to this script
# (or OUT.csv). The two input CSVs were made once by make_data.py (seeded) and are committed.
suppressPackageStartupMessages(library(clubSandwich))

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(script)) dirname(normalizePath(script)) else "tests/reference/robust"
trailing <- commandArgs(trailingOnly = TRUE)
out_file <- if (length(trailing)) trailing[1] else file.path(here, "fe_cr2_reference.csv")

fit_one <- function(file, formula, label) {
  d <- read.csv(file.path(here, file), stringsAsFactors = FALSE)
  d$cluster <- factor(d$cluster)
  d$period <- factor(d$period)
  fit <- glm(formula, family = binomial, data = d)
  ct <- coef_test(fit, vcov = "CR2", cluster = d$cluster, test = "Satterthwaite")
  df_col <- if ("df_Satt" %in% names(ct)) "df_Satt" else "df"
  data.frame(
    model = label,
    position = seq_along(coef(fit)),
    r_term = names(coef(fit)),
    estimate = unname(coef(fit)),
    se_model = unname(sqrt(diag(vcov(fit)))),
    se_cr2 = ct$SE,
    df_satterthwaite = ct[[df_col]],
    p_satterthwaite = ct$p_Satt
  )
}

out <- rbind(
  fit_one("cells_6x5_sex.csv", cbind(events, trials - events) ~ period + cluster + treatment + sex, "6x5_sex"),
  fit_one("cells_5x6.csv", cbind(events, trials - events) ~ period + cluster + treatment, "5x6")
)
write.csv(out, out_file, row.names = FALSE)
cat(sprintf("R %s, clubSandwich %s\n", getRversion(), packageVersion("clubSandwich")))
