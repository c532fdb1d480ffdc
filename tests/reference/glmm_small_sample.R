# Reference for cscvault's small-sample headline test (src/cscvault/analysis/models/small_sample.py):
# lme4 glmer (Laplace, default settings, (1 | cluster)) and the treatment term's Wald statistic referred
# to t with between-within (BW) degrees of freedom, the rule computed here independently in R:
#   * a term that varies within clusters: cluster-period cells minus the rank of
#     [cluster indicators, the fixed-effect columns that are constant within every cell];
#   * a term constant within clusters: clusters minus the rank of the columns constant within clusters.
#
# Usage: Rscript tests/reference/glmm_small_sample.R DATA_DIR OUT.json
# DATA_DIR is tests/reference/data (glmm_manifest.json and one CSV of binomial rows per dataset).
# Written with R 4.2.2, lme4 1.1-31 (Debian bookworm packages).
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
data_dir <- args[[1]]
out_path <- args[[2]]
manifest <- fromJSON(file.path(data_dir, "glmm_manifest.json"), simplifyVector = FALSE)

constant_within <- function(x, group) {
  apply(x, 2, function(col) all(tapply(col, group, function(v) max(v) - min(v)) <= 1e-12))
}

bw_df <- function(x, column, cluster, cell) {
  x <- as.matrix(x)
  if (constant_within(x[, column, drop = FALSE], cluster)) {
    keep <- constant_within(x, cluster)
    first <- !duplicated(cluster)
    df <- nlevels(factor(cluster)) - qr(x[first, keep, drop = FALSE])$rank
  } else {
    keep <- constant_within(x, cell)
    first <- !duplicated(cell)
    cells <- x[first, keep, drop = FALSE]
    indicators <- model.matrix(~ 0 + factor(cluster[first]))
    df <- sum(first) - qr(cbind(indicators, cells))$rank
  }
  max(df, 1)
}

results <- list()
for (name in names(manifest)) {
  info <- manifest[[name]]
  d <- read.csv(file.path(data_dir, paste0(name, ".csv")))
  d$cluster <- factor(d$cluster)
  rhs <- c("treatment", "factor(period)", unlist(info$covariates))
  f <- as.formula(paste("cbind(events, trials - events) ~", paste(rhs, collapse = " + "), "+ (1 | cluster)"))
  fit <- glmer(f, data = d, family = binomial, nAGQ = 1)
  x <- getME(fit, "X")
  cell <- interaction(d$cluster, d$period, drop = TRUE)
  df <- bw_df(x, which(colnames(x) == "treatment"), d$cluster, cell)
  est <- unname(fixef(fit)[["treatment"]])
  se <- unname(sqrt(diag(as.matrix(vcov(fit))))[which(names(fixef(fit)) == "treatment")])
  tval <- est / se
  crit <- qt(0.975, df)
  results[[name]] <- list(
    estimate = est,
    se = se,
    df = df,
    t = tval,
    p_value = 2 * pt(-abs(tval), df),
    log_ci_low = est - crit * se,
    log_ci_high = est + crit * se,
    wald_p_value = 2 * pnorm(-abs(tval))
  )
}

meta <- list(r_version = R.version.string, lme4 = as.character(packageVersion("lme4")), rule = "between-within")
write_json(list(meta = meta, results = results), out_path, digits = NA, auto_unbox = TRUE, pretty = TRUE)
