package org.xrayscreening.connectors.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;

import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Test;
import org.xrayscreening.connectors.event.Alert;
import org.xrayscreening.connectors.event.DeadLetter;
import org.xrayscreening.connectors.event.DeadLetterReason;
import org.xrayscreening.connectors.event.Decision;
import org.xrayscreening.connectors.event.ImageReference;
import org.xrayscreening.connectors.event.ModelScore;
import org.xrayscreening.connectors.event.Recommendation;
import org.xrayscreening.connectors.event.XrayAcquired;
import org.xrayscreening.connectors.event.XrayLabelled;

/**
 * Events flow between Flink operators: Flink copies them between chained operators and serializes them
 * across the network, with the serializer its type extraction picks. Each must survive both.
 */
class FlinkSerializationTest {

    static final Instant T = Instant.parse("2020-04-01T10:15:30Z");

    @Test
    void everyEventSurvivesFlinksSerializers() throws Exception {
        Recommendation rec = new Recommendation(1, "s", "p", Decision.COVID_SUSPECTED, 0.9, 0.5, 0.4, 0.6,
                List.of(new ModelScore("mobilenet", "1", 0.9, 10)), List.of("xception"), T, T, 5, "r");
        roundTrip(Recommendation.class, rec);
        roundTrip(Recommendation.class, new Recommendation(1, "s", null, Decision.INDETERMINATE, 0.5, 0.5, 0.4,
                0.6, null, null, T, T, 0, null));
        roundTrip(Alert.class, Alert.clinical(rec));
        roundTrip(Alert.class, Alert.modelUpdateFailed("m", "v", "x", T));
        roundTrip(DeadLetter.class, DeadLetter.of(DeadLetterReason.MALFORMED_JSON, "d", "t", 0, 1, null,
                new byte[] {1}, T));
        roundTrip(XrayAcquired.class, new XrayAcquired(1, "s", "p", T, "PA", "src",
                ImageReference.inline(ImageReference.PNG, new byte[] {1, 2})));
        roundTrip(XrayLabelled.class, new XrayLabelled(1, "s", "p", T, null, null,
                ImageReference.at(ImageReference.DICOM, "file:///x.dcm"), "covid", "PCR", null));
        roundTrip(RawRecord.class, new RawRecord(null, new byte[] {1}, "t", 1, 2, 3));
    }

    private static <T> void roundTrip(Class<T> type, T value) throws Exception {
        TypeSerializer<T> serializer = TypeInformation.of(type).createSerializer(new SerializerConfigImpl());
        assertThat(serializer.copy(value)).as(type.getSimpleName() + " copy").isEqualTo(value);
        DataOutputSerializer out = new DataOutputSerializer(256);
        serializer.serialize(value, out);
        T back = serializer.deserialize(new DataInputDeserializer(out.getSharedBuffer(), 0, out.length()));
        assertThat(back).as(type.getSimpleName() + " serialize").isEqualTo(value);
    }
}
