package org.xrayscreening.connectors.image;

import java.io.Serializable;

import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.InvalidEventException;

/**
 * Bounds on one image, applied before any large allocation: the encoded size ({@code maxBytes}, inline data,
 * files and downloads alike) and the decoded size (pixels and longest side, read from the header before the
 * pixels are decoded).
 *
 * @param maxBytes largest encoded image accepted, in bytes
 * @param maxPixels largest width x height accepted
 * @param maxSide largest width or height accepted
 */
public record ImageLimits(long maxBytes, long maxPixels, int maxSide) implements Serializable {

    /** 32 MiB, 50 megapixels, 8192 pixels a side. */
    public static final ImageLimits DEFAULTS = new ImageLimits(32L << 20, 50_000_000L, 8192);

    public ImageLimits {
        if (maxBytes <= 0 || maxPixels <= 0 || maxSide <= 0) {
            throw new IllegalArgumentException("image limits must be positive: " + maxBytes + ", " + maxPixels
                    + ", " + maxSide);
        }
    }

    /** @throws InvalidEventException {@link DeadLetterReason#IMAGE_TOO_LARGE} if {@code size > maxBytes} */
    public void checkBytes(long size, String what) throws InvalidEventException {
        if (size > maxBytes) {
            throw new InvalidEventException(DeadLetterReason.IMAGE_TOO_LARGE,
                    what + " is " + size + " bytes, over the limit of " + maxBytes);
        }
    }

    /** @throws InvalidEventException {@link DeadLetterReason#IMAGE_TOO_LARGE} if the dimensions exceed a limit */
    public void checkDimensions(long width, long height) throws InvalidEventException {
        if (width <= 0 || height <= 0) {
            throw new InvalidEventException(DeadLetterReason.UNDECODABLE_IMAGE,
                    "image header gives no size (" + width + "x" + height + ")");
        }
        if (width > maxSide || height > maxSide || width * height > maxPixels) {
            throw new InvalidEventException(DeadLetterReason.IMAGE_TOO_LARGE,
                    "image is " + width + "x" + height + " pixels, over the limit of " + maxSide
                            + " a side and " + maxPixels + " pixels");
        }
    }
}
