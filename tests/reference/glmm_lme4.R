# Reference fits for cscvault's logistic mixed models (src/cscvault/analysis/models/glmm.py).
#
# Usage: Rscript tests/reference/glmm_lme4.R DATA_DIR OUT.json
# DATA_DIR holds glmm_manifest.json and one CSV of binomial rows per dataset (columns cluster, period,
# treatment, covariates..., events, trials), made by tests/reference/make_glmm_datasets.py.
# Fits, with lme4's default settings (what an analyst gets):
#   * glmer Laplace (nAGQ = 1) and nAGQ = 25, random intercept for cluster;
#   * for datasets that list "cluster-period": glmer Laplace and glmmTMB (Laplace) with
#     (1 | cluster) + (1 | cluster:period).
# Written with R 4.2.2, lme4 1.1-31, glmmTMB 1.1.5 (Debian bookworm packages).
suppressPackageStartupMessages({
  library(lme4)
  library(glmmTMB)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
data_dir <- args[[1]]
out_path <- args[[2]]
manifest <- fromJSON(file.path(data_dir, "glmm_manifest.json"), simplifyVector = FALSE)

fixed_formula <- function(covariates) {
  rhs <- c("treatment", "factor(period)", unlist(covariates))
  paste("cbind(events, trials - events) ~", paste(rhs, collapse = " + "))
}

glmer_result <- function(fit, seconds) {
  v <- as.matrix(vcov(fit))
  vc <- as.data.frame(VarCorr(fit))
  sds <- setNames(as.list(vc$sdcor), ifelse(vc$grp == "cluster", "cluster", "cluster_period"))
  list(
    terms = names(fixef(fit)),
    estimate = unname(fixef(fit)),
    se = unname(sqrt(diag(v))),
    re_sd = sds,
    loglik = as.numeric(logLik(fit)),
    singular = isSingular(fit),
    seconds = seconds
  )
}

tmb_result <- function(fit, seconds) {
  cf <- fixef(fit)$cond
  vc <- VarCorr(fit)$cond
  sds <- lapply(vc, function(m) attr(m, "stddev")[[1]])
  names(sds) <- ifelse(names(sds) == "cluster", "cluster", "cluster_period")
  list(
    terms = names(cf),
    estimate = unname(cf),
    se = unname(sqrt(diag(vcov(fit)$cond))),
    re_sd = sds,
    loglik = as.numeric(logLik(fit)),
    singular = NA,
    seconds = seconds
  )
}

timed <- function(expr) {
  t0 <- proc.time()[["elapsed"]]
  value <- force(expr)
  list(value = value, seconds = proc.time()[["elapsed"]] - t0)
}

results <- list()
for (name in names(manifest)) {
  info <- manifest[[name]]
  d <- read.csv(file.path(data_dir, paste0(name, ".csv")))
  d$cluster <- factor(d$cluster)
  f <- fixed_formula(info$covariates)
  fits <- list()
  f_cl <- as.formula(paste(f, "+ (1 | cluster)"))
  r <- timed(glmer(f_cl, data = d, family = binomial, nAGQ = 1))
  fits[["cluster_laplace"]] <- glmer_result(r$value, r$seconds)
  r <- timed(glmer(f_cl, data = d, family = binomial, nAGQ = 25))
  fits[["cluster_agq25"]] <- glmer_result(r$value, r$seconds)
  if ("cluster-period" %in% unlist(info$random_effects)) {
    f_cp <- as.formula(paste(f, "+ (1 | cluster) + (1 | cluster:period)"))
    r <- timed(glmer(f_cp, data = d, family = binomial, nAGQ = 1))
    fits[["cluster_period_laplace"]] <- glmer_result(r$value, r$seconds)
    r <- timed(glmmTMB(f_cp, data = d, family = binomial))
    fits[["cluster_period_glmmtmb"]] <- tmb_result(r$value, r$seconds)
  }
  results[[name]] <- fits
}

meta <- list(
  r_version = R.version.string,
  lme4 = as.character(packageVersion("lme4")),
  glmmTMB = as.character(packageVersion("glmmTMB"))
)
write_json(list(meta = meta, results = results), out_path, digits = NA, auto_unbox = TRUE, pretty = TRUE)
