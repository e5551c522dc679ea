package org.xrayscreening.connectors.image;

import java.awt.image.BufferedImage;
import java.io.IOException;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.InvalidEventException;

/**
 * Coverage-guided fuzzing of the image decoders with Jazzer, one target per format. {@code mvn verify} runs
 * them in regression mode: only the committed seeds under {@code ImageDecoderFuzzTestInputs/<target>/} (the
 * bad-input corpus' images plus valid ones) and any crash files added there. A fuzzing session:
 * {@code JAZZER_FUZZ=1 mvn -o -pl connectors test -Dtest=ImageDecoderFuzzTest#dicom} (one target per run, for the
 * {@code maxDuration} below; only fuzzing mode reads it). See docs/bad-inputs.md.
 *
 * <p>The property: bytes either decode to an image within the limits, or are refused with a reason. A codec
 * library may throw on corrupt input ({@link ImageDecoder#decode} reports that as {@code UNDECODABLE_IMAGE});
 * this project's own parsing (DICOM header, encapsulated frames, RLE, intensity) must not throw anything but
 * {@link InvalidEventException}, and nothing may run out of memory or stack.
 */
class ImageDecoderFuzzTest {

    private static final ImageDecoder DECODER = new ImageDecoder(BadInputCorpus.LIMITS);

    @FuzzTest(maxDuration = "10m")
    void dicom(byte[] data) {
        check(data, ImageReference.DICOM);
    }

    @FuzzTest(maxDuration = "10m")
    void png(byte[] data) {
        check(data, ImageReference.PNG);
    }

    @FuzzTest(maxDuration = "10m")
    void jpeg(byte[] data) {
        check(data, ImageReference.JPEG);
    }

    static void check(byte[] data, String contentType) {
        try {
            BufferedImage image = DECODER.decodeUnwrapped(data, contentType);
            ImageLimits l = DECODER.limits();
            if (image.getWidth() > l.maxSide() || image.getHeight() > l.maxSide()
                    || (long) image.getWidth() * image.getHeight() > l.maxPixels()) {
                throw new AssertionError("decoded an image over the limits: " + image.getWidth() + "x" + image.getHeight());
            }
        } catch (InvalidEventException e) {
            if (e.detail() == null || e.detail().isBlank()) {
                throw new AssertionError("refused without a detail: " + e.reason());
            }
        } catch (IOException e) {
            // a codec's complaint about corrupt input
        } catch (RuntimeException | LinkageError | AssertionError e) {
            if (thrownHere(e)) {
                throw e;
            }
        }
    }

    /** True if the first frame outside the JDK's core classes is this project's code. */
    static boolean thrownHere(Throwable e) {
        for (StackTraceElement f : e.getStackTrace()) {
            String c = f.getClassName();
            if (c.startsWith("java.") || c.startsWith("jdk.internal.")) {
                continue;
            }
            return c.startsWith("org.xrayscreening.") && !c.endsWith("FuzzTest");
        }
        return false;
    }
}
