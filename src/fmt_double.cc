/*
 * fmt_double.cc - Python's repr() of a float, via Google's double-conversion.
 *
 * MLflow writes metric values with str(float): the shortest text that reads
 * back to the same double, in fixed notation for exponents -4..15 and
 * scientific otherwise, with at least two exponent digits ("1e-05"). The
 * printf-and-reparse approach costs ~1.3 us per value here, as much as the
 * write() it precedes; double-conversion's shortest mode takes ~0.15 us.
 */
#include <double-conversion/double-conversion.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

extern "C" __attribute__((visibility("hidden"))) size_t mlflow__fmt_double(double v, char buf[32]);

using double_conversion::DoubleToStringConverter;
using double_conversion::StringBuilder;

static const DoubleToStringConverter python_repr(
    DoubleToStringConverter::EMIT_POSITIVE_EXPONENT_SIGN |
        DoubleToStringConverter::EMIT_TRAILING_DECIMAL_POINT |
        DoubleToStringConverter::EMIT_TRAILING_ZERO_AFTER_POINT,
    "inf", "nan", 'e',
    -4,  /* decimal_in_shortest_low: 0.0001 stays fixed, 1e-05 does not */
    16,  /* decimal_in_shortest_high: 1e+16 switches to scientific */
    0, 0,
    2);  /* min_exponent_width: "1e-05", as Python */

size_t mlflow__fmt_double(double v, char buf[32])
{
    StringBuilder sb(buf, 32);
    python_repr.ToShortest(v, &sb);
    size_t n = (size_t)sb.position();
    sb.Finalize();
    return n;
}
