# calcRisks test data (sdcMicro tests/testthat/test_calcRisks.R lines 2-11 and 31-52), base R only.
set.seed(3)
sample_Data <- runif(30, 1, 100)
sample_Data <- array(sample_Data, dim = c(10,3))
sample_Data <- cbind(sample_Data, round(runif(10, 1, 4), digits = 0))
sample_Data <- cbind(sample_Data, round(runif(10, 1, 6), digits = 0))
sample_Data <- cbind(sample_Data, round(runif(10, 1, 3), digits = 0))
colnames(sample_Data) <- c("Var1", "Var2", "Var3", "Var4", "Var5", "Var6")
sample_Data[,4] <- as.factor(as.numeric(sample_Data[,4]))
sample_Data[,5] <- as.factor(as.numeric(sample_Data[,5]))
sample_Data[,6] <- as.factor(as.numeric(sample_Data[,6]))
write.csv(sample_Data[, 4:6], "calcrisks_no_missing.csv", row.names = FALSE, na = "")
set.seed(3)
sample_Data <- runif(20, 1, 100)
sample_Data <- array(sample_Data, dim = c(4,5))
sample_Data <- cbind(sample_Data, round(runif(4, 1, 2), digits = 0))
sample_Data <- cbind(sample_Data, round(runif(4, 1, 4), digits = 0))
sample_Data <- cbind(sample_Data, round(runif(4, 1, 6), digits = 0))
sample_Data <- cbind(sample_Data, round(runif(4, 1, 3), digits = 0))
sample_Data <- cbind(sample_Data, round(runif(4, 1, 5), digits = 0))
sample_Data <- cbind(sample_Data, round(runif(4, 1, 2), digits = 0))
colnames(sample_Data) <- c("Var1", "Var2", "Var3", "Var4", "Var5", "Var6", "Var7", "Var8", "Var9", "Var10", "Var11")
for (j in 6:11) sample_Data[,j] <- as.factor(as.numeric(sample_Data[,j]))
sample_Data[c(1,3,4),6] <- NA
sample_Data[c(2,3),7] <- NA
sample_Data[c(3),8] <- NA
sample_Data[c(1,3),9] <- NA
sample_Data[c(2,3),10] <- NA
sample_Data[c(3),11] <- NA
write.csv(sample_Data[, 6:11], "calcrisks_missing.csv", row.names = FALSE, na = "")
load("testdata.RData")
write.csv(testdata, "testdata.csv", row.names = FALSE, na = "")
# testdata_keys.csv is testdata.csv cut to: urbrur, roof, walls, water, electcon, relat, sex, sampling_weight.
