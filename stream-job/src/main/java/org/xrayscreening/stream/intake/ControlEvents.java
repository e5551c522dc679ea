package org.xrayscreening.stream.intake;

import java.time.Instant;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.xrayscreening.connectors.event.EventCodec;
import org.xrayscreening.connectors.event.InvalidEventException;
import org.xrayscreening.connectors.event.ModelUpdate;
import org.xrayscreening.connectors.event.XrayLabelled;
import org.xrayscreening.connectors.kafka.RawRecord;
import org.xrayscreening.stream.metrics.ScreeningMetrics;

/**
 * Parsers for the job's two other inputs, {@code xray.model-updates} and {@code xray.labelled}. A record that
 * does not parse goes to the same dead-letter output as a bad study, with its reason and coordinates.
 */
public final class ControlEvents {
    private ControlEvents() {}

    public static class ParseModelUpdate extends ProcessFunction<RawRecord, ModelUpdate> {
        private final EventCodec codec = new EventCodec();

        @Override
        public void processElement(RawRecord record, Context ctx, Collector<ModelUpdate> out) {
            try {
                out.collect(codec.parseModelUpdate(record.getValue()));
            } catch (InvalidEventException e) {
                ScreeningMetrics.get().deadLetters.labelValues(e.reason().name()).inc();
                ctx.output(StudyIntake.DEAD_LETTERS, record.toDeadLetter(e, Instant.now()));
            }
        }
    }

    public static class ParseLabelled extends ProcessFunction<RawRecord, XrayLabelled> {
        private final EventCodec codec = new EventCodec();

        @Override
        public void processElement(RawRecord record, Context ctx, Collector<XrayLabelled> out) {
            try {
                out.collect(codec.parseLabelled(record.getValue()));
            } catch (InvalidEventException e) {
                ScreeningMetrics.get().deadLetters.labelValues(e.reason().name()).inc();
                ctx.output(StudyIntake.DEAD_LETTERS, record.toDeadLetter(e, Instant.now()));
            }
        }
    }
}
