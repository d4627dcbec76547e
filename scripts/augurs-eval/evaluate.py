import json, collections
labels={}
for l in open('labels.tsv'):
    if l.startswith('#') or not l.strip(): continue
    lang,key,lab,*_=l.rstrip('\n').split('\t'); labels[(lang,key)]=(lab=='seasonal')
res={(r['lang'],r['key']):r for r in map(json.loads,open('results.jsonl'))}
dets=[('seasons_default','seasons_default_52'),('seasons_long','seasons_long_52'),('mstl52>=0.5','mstl_52'),('bocpd_pair52','cp_52'),('hand_rule','rule')]
def metrics(pairs):
    tp=sum(1 for y,p in pairs if y and p); fp=sum(1 for y,p in pairs if not y and p)
    fn=sum(1 for y,p in pairs if y and not p); tn=sum(1 for y,p in pairs if not y and not p)
    acc=(tp+tn)/len(pairs); prec=tp/(tp+fp) if tp+fp else float('nan'); rec=tp/(tp+fn) if tp+fn else float('nan')
    return acc,prec,rec,tp,fp,fn,tn
for name,f in dets:
    for lang in ('fi','en','all'):
        ks=[k for k in labels if lang=='all' or k[0]==lang]
        pairs=[(labels[k],bool(res[k][f])) for k in ks]
        acc,prec,rec,tp,fp,fn,tn=metrics(pairs)
        allk=[r for r in res.values() if lang=='all' or r['lang']==lang]
        flag=sum(bool(r[f]) for r in allk)/len(allk)
        print(f'{name:16s} {lang:3s} acc {acc:.2f} prec {prec:.2f} rec {rec:.2f}  tp{tp} fp{fp} fn{fn} tn{tn}  flags {flag:.1%} of all {len(allk)} keys>=5docs')
    wrong=[(k[0],k[1],'FN' if labels[k] else 'FP') for k in labels if labels[k]!=bool(res[k][f])]
    print('   wrong:', '; '.join(f'{l}:{k}({t})' for l,k,t in wrong))
