package org.xrayscreening.trainer.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.Date;
import java.util.TimeZone;
import org.junit.jupiter.api.Test;
import org.quartz.CronExpression;

class CronSchedulesTest {

    private static ZonedDateTime next(String expression, String after) throws Exception {
        CronExpression cron = new CronExpression(CronSchedules.toQuartz(expression));
        cron.setTimeZone(TimeZone.getTimeZone("UTC"));
        Date d = cron.getNextValidTimeAfter(Date.from(ZonedDateTime.parse(after).toInstant()));
        return d.toInstant().atZone(ZoneOffset.UTC);
    }

    @Test
    void unixDailyAtTwoIsTheChartDefault() throws Exception {
        assertThat(CronSchedules.toQuartz("0 2 * * *")).isEqualTo("0 0 2 * * ?");
        assertThat(next("0 2 * * *", "2026-11-26T06:00:00Z")).isEqualTo(ZonedDateTime.parse("2026-11-27T02:00:00Z"));
    }

    @Test
    void unixDayOfWeekNumbersAreShiftedToQuartz() throws Exception {
        // Sunday is 0 in Unix cron, 1 in Quartz; 2026-11-29 is a Sunday
        assertThat(next("30 3 * * 0", "2026-11-26T06:00:00Z")).isEqualTo(ZonedDateTime.parse("2026-11-29T03:30:00Z"));
        assertThat(next("30 3 * * 1-5", "2026-11-27T06:00:00Z")).isEqualTo(ZonedDateTime.parse("2026-11-30T03:30:00Z"));
    }

    @Test
    void quartzExpressionsPassThrough() throws Exception {
        assertThat(CronSchedules.toQuartz("0 0 2 ? * SUN")).isEqualTo("0 0 2 ? * SUN");
    }

    @Test
    void nonsenseIsRefusedWithAReason() {
        assertThatThrownBy(() -> CronSchedules.toQuartz("every night")).hasMessageContaining("fields");
        assertThatThrownBy(() -> CronSchedules.toQuartz("0 25 * * *")).hasMessageContaining("invalid");
        assertThatThrownBy(() -> CronSchedules.toQuartz("0 2 1 * 1")).hasMessageContaining("both");
    }
}
