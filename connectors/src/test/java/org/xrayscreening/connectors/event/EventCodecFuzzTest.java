package org.xrayscreening.connectors.event;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.xrayscreening.connectors.image.ImageLimits;

/**
 * Coverage-guided fuzzing of the event codec with Jazzer. In {@code mvn verify}: regression mode over the
 * committed seeds in {@code EventCodecFuzzTestInputs/<target>/}. A fuzzing session:
 * {@code JAZZER_FUZZ=1 mvn -o -pl connectors test -Dtest=EventCodecFuzzTest#parseAcquired} (one target per
 * run, for the {@code maxDuration} below; only fuzzing mode reads it). See docs/bad-inputs.md.
 *
 * <p>Properties: untrusted bytes give a complete event or an {@link InvalidEventException} with a reason,
 * never another exception; an accepted event, written back out, parses to the same event (what the job
 * dead-letters or forwards means the same to every consumer); a model update never names a path that leaves
 * its registry directory.
 */
class EventCodecFuzzTest {

    private static final EventCodec CODEC = new EventCodec(new ImageLimits(512 * 1024, 4_000_000L, 8192));

    @FuzzTest(maxDuration = "10m")
    void parseAcquired(byte[] data) {
        try {
            XrayAcquired event = CODEC.parseAcquired(data);
            XrayAcquired again = CODEC.parseAcquired(CODEC.toJson(event));
            if (!again.equals(event)) {
                throw new AssertionError("written and re-read, the event changed");
            }
        } catch (InvalidEventException e) {
            requireDetail(e);
        }
    }

    @FuzzTest(maxDuration = "10m")
    void parseModelUpdate(byte[] data) {
        try {
            ModelUpdate update = CODEC.parseModelUpdate(data);
            for (String segment : new String[] {update.model(), update.version()}) {
                if (segment.contains("/") || segment.contains("\\") || segment.startsWith(".") || segment.isEmpty()) {
                    throw new AssertionError("a model update names an unsafe path segment");
                }
            }
        } catch (InvalidEventException e) {
            requireDetail(e);
        }
    }

    private static void requireDetail(InvalidEventException e) {
        if (e.reason() == null || e.detail() == null || e.detail().isBlank()) {
            throw new AssertionError("refused without a reason and detail");
        }
    }
}
