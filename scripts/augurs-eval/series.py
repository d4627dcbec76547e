# Build weekly (Monday-start) series: per key docs/week, and total docs/week. Keys with >= 5 docs + all labelled keys.
import json, datetime, collections
labels=[l.rstrip('\n').split('\t') for l in open('labels.tsv') if not l.startswith('#') and l.strip()]
out={}
for lang in ('fi','en'):
    docs=[json.loads(l) for l in open(f'docs_{lang}.jsonl')]
    w0=min(datetime.date.fromisoformat(d['week']) for d in docs); w1=max(datetime.date.fromisoformat(d['week']) for d in docs)
    n=(w1-w0).days//7+1
    weeks=[(w0+datetime.timedelta(weeks=i)).isoformat() for i in range(n)]
    idx={w:i for i,w in enumerate(weeks)}
    total=[0]*n; per=collections.defaultdict(lambda:[0]*n); df=collections.Counter()
    for d in docs:
        i=idx[d['week']]; total[i]+=1
        for k in d['keys']: per[k][i]+=1; df[k]+=1
    lab={k for l,k,*_ in labels if l==lang}
    missing=lab-set(per); assert not missing, missing
    keys={k:v for k,v in per.items() if df[k]>=5 or k in lab}
    out[lang]={'weeks':weeks,'total':total,'keys':keys}
    print(lang,'weeks',n,weeks[0],weeks[-1],'keys>=5',len(keys))
json.dump(out,open('series.json','w'),ensure_ascii=False)
