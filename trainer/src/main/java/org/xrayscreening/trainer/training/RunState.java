package org.xrayscreening.trainer.training;

import java.util.ArrayList;
import java.util.List;

/**
 * Progress of a run, written after every completed epoch next to the weights of that epoch (no optimizer
 * state: a resumed run starts a fresh optimizer). The shuffling and augmentation RNG of epoch {@code e} is
 * seeded from ({@code seed}, {@code e}), so the RNG position is the epoch number and a resumed run draws
 * the same batches as an uninterrupted one.
 */
public final class RunState {
    /** Last epoch whose weights are in {@code checkpoint/last}; 0 = none yet. */
    public int completedEpochs;
    public double bestValidationLoss = Double.POSITIVE_INFINITY;
    public int bestEpoch;
    public int epochsWithoutImprovement;
    public boolean stoppedEarly;
    /** True when the run ended before its planned epochs because of the time budget. */
    public boolean stoppedByTimeBudget;
    public boolean finished;
    /** Wall-clock seconds spent training so far (all sessions of the run). */
    public double trainSeconds;
    /** Images seen by training steps so far. */
    public long trainImages;
    public List<EpochRecord> history = new ArrayList<>();

    /** One epoch's numbers. */
    public static final class EpochRecord {
        public int epoch;
        public double trainLoss;
        public double validationLoss;
        public double validationAccuracy;
        public double validationAuc;
        public double seconds;
        public double imagesPerSecond;
        /** Images trained on in this epoch (fewer than the train split when the epoch was cut short). */
        public long images;

        public EpochRecord() {}

        EpochRecord(int epoch, double trainLoss, double validationLoss, double validationAccuracy,
                double validationAuc, double seconds, double imagesPerSecond) {
            this.epoch = epoch;
            this.trainLoss = trainLoss;
            this.validationLoss = validationLoss;
            this.validationAccuracy = validationAccuracy;
            this.validationAuc = validationAuc;
            this.seconds = seconds;
            this.imagesPerSecond = imagesPerSecond;
        }

        EpochRecord withImages(long n) {
            this.images = n;
            return this;
        }
    }
}
