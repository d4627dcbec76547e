// Scratch harness: augurs detectors vs the hand-written seasonal rule on weekly key series.
use augurs_changepoint::{Detector as CpDetector, NormalGammaDetector};
use augurs_core::Fit;
use augurs_mstl::MSTLModel;
use augurs_seasons::{Detector as SeasonDetector, PeriodogramDetector};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PERIOD_LO: u32 = 40; // "about 52 weeks" window for augurs-seasons (declared before measuring)
const PERIOD_HI: u32 = 70;
const MSTL_STRENGTH: f64 = 0.5; // declared before measuring
const CP_LAG_TOL: i64 = 3; // two change points 52±3 weeks apart

fn hand_rule(c: &[f64], tot: &[f64]) -> (bool, usize, Vec<Value>) {
    let n = c.len();
    let last_start = n.saturating_sub(52);
    // W = peak week (by docs) in the last 52 weeks; ties -> higher share, then later week
    let mut w = last_start;
    for i in last_start..n {
        let better = c[i] > c[w]
            || (c[i] == c[w] && tot[i] > 0.0 && tot[w] > 0.0 && c[i] / tot[i] >= c[w] / tot[w])
            || (c[i] == c[w] && tot[w] == 0.0);
        if better { w = i; }
    }
    let sum = |v: &[f64], a: i64, b: i64| -> f64 { // inclusive, clipped
        let a = a.max(0); let b = b.min(n as i64 - 1);
        if a > b { 0.0 } else { v[a as usize..=b as usize].iter().sum() }
    };
    let mut hit = false; let mut info = vec![];
    for y in 1..=3i64 {
        let centre = w as i64 - 52 * y;
        let tw = sum(tot, centre - 3, centre + 3);
        if tw <= 0.0 { continue; } // corpus has no documents there
        let s = sum(c, centre - 3, centre + 3);
        let k52 = sum(c, centre - 26, centre + 25);
        let t52 = sum(tot, centre - 26, centre + 25);
        let e = if t52 > 0.0 { k52 * tw / t52 } else { 0.0 };
        let ok = s >= 2.0 && (s + 1.0) / (e + 1.0) >= 2.5;
        hit |= ok;
        info.push(json!({"y": y, "S": s, "E": e, "ok": ok}));
    }
    (hit, w, info)
}

fn main() {
    let data: Value = serde_json::from_reader(std::fs::File::open("series.json").unwrap()).unwrap();
    let mut times = [Duration::ZERO; 5];
    let mut nkeys = 0usize;
    let out = std::fs::File::create("results.jsonl").unwrap();
    use std::io::Write;
    let mut out = std::io::BufWriter::new(out);
    for lang in ["fi", "en"] {
        let d = &data[lang];
        let tot: Vec<f64> = d["total"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        let n = tot.len();
        let default_det = PeriodogramDetector::default();
        let long_det = PeriodogramDetector::builder().max_period((n / 2) as u32).build();
        let mut keys: Vec<(&String, &Value)> = d["keys"].as_object().unwrap().iter().collect();
        keys.sort_by(|a, b| a.0.cmp(b.0));
        for (key, v) in keys {
            nkeys += 1;
            let c: Vec<f64> = v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
            let share: Vec<f64> = c.iter().zip(&tot).map(|(a, t)| if *t > 0.0 { a / t } else { 0.0 }).collect();

            // 1. augurs-seasons (default, and max_period = n/2 so 52 is reachable)
            let t0 = Instant::now();
            let p_def = default_det.detect(&share);
            times[0] += t0.elapsed();
            let t0 = Instant::now();
            let p_long = long_det.detect(&share);
            let pg = long_det.periodogram(&share);
            times[1] += t0.elapsed();
            let maxp = pg.powers.iter().cloned().fold(0.0f64, f64::max);
            let rel52 = pg.periods.iter().zip(&pg.powers)
                .filter(|(p, _)| (PERIOD_LO..=PERIOD_HI).contains(*p))
                .map(|(_, w)| if maxp > 0.0 { w / maxp } else { 0.0 })
                .fold(0.0f64, f64::max);
            let in_win = |ps: &Vec<u32>| ps.iter().any(|p| (PERIOD_LO..=PERIOD_HI).contains(p));

            // 2. augurs-mstl, period 52, seasonal strength
            let t0 = Instant::now();
            let strength = match MSTLModel::naive(vec![52]).fit(&share) {
                Ok(f) => f.fit().seasonal_strength()[0],
                Err(e) => { eprintln!("mstl {lang} {key}: {e}"); f64::NAN }
            };
            times[2] += t0.elapsed();

            // 3. augurs-changepoint BOCPD (Normal-Gamma default prior) on z-scored share
            let t0 = Instant::now();
            let mean = share.iter().sum::<f64>() / n as f64;
            let sd = (share.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
            let z: Vec<f64> = share.iter().map(|x| if sd > 0.0 { (x - mean) / sd } else { 0.0 }).collect();
            let cps: Vec<usize> = NormalGammaDetector::default().detect_changepoints(&z).into_iter().filter(|&i| i > 0).collect();
            let mut cp_pair = false;
            for (i, &a) in cps.iter().enumerate() {
                for &b in &cps[i + 1..] {
                    if ((b as i64 - a as i64) - 52).abs() <= CP_LAG_TOL { cp_pair = true; }
                }
            }
            times[3] += t0.elapsed();

            // 4. hand rule
            let t0 = Instant::now();
            let (hr, w, info) = hand_rule(&c, &tot);
            times[4] += t0.elapsed();

            writeln!(out, "{}", json!({
                "lang": lang, "key": key, "docs": c.iter().sum::<f64>(),
                "seasons_default": p_def, "seasons_default_52": in_win(&p_def),
                "seasons_long": p_long, "seasons_long_52": in_win(&p_long), "seasons_rel_power_52": rel52,
                "mstl_strength": strength, "mstl_52": strength >= MSTL_STRENGTH,
                "changepoints": cps, "cp_52": cp_pair,
                "rule": hr, "rule_W": d["weeks"][w], "rule_info": info,
            })).unwrap();
        }
    }
    let names = ["seasons_default", "seasons_long(+periodogram)", "mstl52", "bocpd", "hand_rule"];
    for (nm, t) in names.iter().zip(times) {
        eprintln!("time {nm}: total {:?}, per key {:.2} us over {nkeys} keys", t, t.as_secs_f64() * 1e6 / nkeys as f64);
    }
}
