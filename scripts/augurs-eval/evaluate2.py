import json
labels={};unc=set()
for l in open('labels.tsv'):
    if l.startswith('#') or not l.strip(): continue
    lang,key,lab,docs,note=l.rstrip('\n').split('\t'); labels[(lang,key)]=(lab=='seasonal')
    if 'uncertain' in note: unc.add((lang,key))
res={(r['lang'],r['key']):r for r in map(json.loads,open('results.jsonl'))}
def auc(keys,score):
    pos=[score(res[k]) for k in keys if labels[k]]; neg=[score(res[k]) for k in keys if not labels[k]]
    return sum((p>n)+0.5*(p==n) for p in pos for n in neg)/(len(pos)*len(neg))
def best(keys,score):
    vals=sorted({score(res[k]) for k in keys}); out=(0,None)
    for t in vals:
        acc=sum((score(res[k])>=t)==labels[k] for k in keys)/len(keys)
        if acc>out[0]: out=(acc,t)
    return out
for lang in ('fi','en','all'):
    ks=[k for k in labels if lang=='all' or k[0]==lang]
    for nm,sc in (('mstl_strength',lambda r:r['mstl_strength']),('seasons_rel_power_52',lambda r:r['seasons_rel_power_52'])):
        a=auc(ks,sc); b=best(ks,sc)
        print(f'{lang:3s} {nm:22s} AUC {a:.2f}  best-in-hindsight threshold {b[1]:.3f} -> acc {b[0]:.2f}')
# certain-only
print('--- without the', len(unc), 'labels marked uncertain:', sorted(k for _,k in unc))
for nm,f in [('seasons_long','seasons_long_52'),('mstl52>=0.5','mstl_52'),('bocpd_pair52','cp_52'),('hand_rule','rule')]:
    for lang in ('fi','en','all'):
        ks=[k for k in labels if (lang=='all' or k[0]==lang) and k not in unc]
        tp=sum(labels[k] and res[k][f] for k in ks); fp=sum((not labels[k]) and res[k][f] for k in ks); fn=sum(labels[k] and not res[k][f] for k in ks)
        acc=sum(bool(res[k][f])==labels[k] for k in ks)/len(ks)
        print(f'{nm:14s} {lang:3s} n{len(ks)} acc {acc:.2f} prec {tp/(tp+fp) if tp+fp else float("nan"):.2f} rec {tp/(tp+fn):.2f}')
