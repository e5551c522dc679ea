package org.xrayscreening.trainer.dataset;

/**
 * How a dataset is split: {@code testFraction} of the images go to the test split, then
 * {@code validationFraction} of the rest to validation. The paper's protocol is 75:25 train/test with 30% of
 * train for validation ({@link #paper}).
 */
public record SplitSpec(long seed, double testFraction, double validationFraction) {
    public static final long DEFAULT_SEED = 42;

    public SplitSpec {
        if (!(testFraction >= 0 && testFraction < 1) || !(validationFraction >= 0 && validationFraction < 1)) {
            throw new IllegalArgumentException("fractions must be in [0, 1): test " + testFraction + ", validation "
                    + validationFraction);
        }
    }

    public static SplitSpec paper(long seed) {
        return new SplitSpec(seed, 0.25, 0.30);
    }

    @Override
    public String toString() {
        return "seed " + seed + ", test " + testFraction + ", validation " + validationFraction + " of the rest";
    }
}
