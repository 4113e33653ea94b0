//! The stylesheets, served by the service itself: one for the screen, one for print (the
//! report goes into the minutes of a meeting).

use axum::http::header;
use axum::response::IntoResponse;

pub const SCREEN: &str = "body{font-family:system-ui,sans-serif;max-width:72rem;margin:0 auto;padding:1rem;color:#1b1b1b}
header{display:flex;justify-content:space-between;align-items:center;flex-wrap:wrap;border-bottom:2px solid #0066cc;margin-bottom:1rem}
header nav a{margin-right:.8rem}a{color:#0066cc}h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0}td,th{border-bottom:1px solid #ccc;padding:.3rem .4rem;text-align:right}
th{background:#f2f6fa;vertical-align:bottom}td:first-child,th:first-child{text-align:left}caption{text-align:left;font-weight:600;padding:.3rem 0}
.scorri{overflow-x:auto}.nota{color:#555;font-size:.85rem}.errore{color:#b00020}.grafici{display:flex;flex-wrap:wrap;gap:1rem}
.grafici figure{margin:0;flex:1 1 22rem;max-width:34rem}figcaption{font-weight:600;font-size:.9rem}svg{max-width:100%;height:auto}
.periodo{display:flex;gap:.6rem;align-items:center;flex-wrap:wrap;margin:.5rem 0}.periodo input{width:8rem;padding:.2rem}
.meglio{color:#1b6e20}.peggio{color:#b00020}.riquadro{border:1px solid #ccc;padding:.6rem .8rem;margin:.8rem 0;background:#fafafa}
.congelato{border-left:4px solid #0066cc;padding:.4rem .8rem;background:#eef4fb}";

pub const PRINT: &str = "@page{size:A4 landscape;margin:12mm}
body{max-width:none;font-size:10pt;color:#000}header nav,form,.periodo,.esporta,.non-stampare{display:none}
a{color:#000;text-decoration:none}table{page-break-inside:auto}tr{page-break-inside:avoid}
h2{page-break-after:avoid}figure{page-break-inside:avoid;max-width:48%}.grafici{gap:.5rem}th{background:#eee !important}";

pub fn css(text: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        text,
    )
}
