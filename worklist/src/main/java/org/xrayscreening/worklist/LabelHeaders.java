package org.xrayscreening.worklist;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * Kafka headers on the worklist's {@code xray.labelled} records. They carry what the event schema has no field
 * for, so that the event stays what every reader of the topic (trainer, stream job) already accepts: the click id
 * (the idempotency key, rebuilt from the topic after a restart), the reviewer's login and the optional note.
 */
public final class LabelHeaders {
    public static final String CLICK_ID = "worklist-click-id";
    public static final String REVIEWER = "worklist-reviewer";
    public static final String NOTE = "worklist-note";

    private LabelHeaders() {}

    static String text(Headers headers, String name) {
        Header h = headers.lastHeader(name);
        return h == null || h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    static byte[] bytes(String value) {
        return value.getBytes(StandardCharsets.UTF_8);
    }
}
