import csv, datetime, json, os, subprocess, sys
SHARED=os.environ.get('WEAKSIGNAL_SHARED', os.path.join(os.path.dirname(__file__), '../../../shared'))
BIN=os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../target/release/weaksignal')
def fi_docs():
    out=[]
    for x in csv.DictReader(open(os.path.join(SHARED,'corpora/yle-selkouutiset/selkouutiset_stories_fi_en.csv'))):
        d=datetime.date.fromisoformat(x['date'])
        t=(x['title_fi']+' '+x['text_fi'][:300]).replace('\r',' ').replace('\n',' ')
        out.append((d,t))
    return out
def en_docs():
    out=[]
    for x in csv.DictReader(open(os.path.join(SHARED,'corpora/guardian-headlines/guardian_headlines.csv'))):
        s=x['Time'].strip()
        if not s: continue
        try: d=datetime.datetime.strptime(s,'%d-%b-%y').date()
        except ValueError: print('bad date',repr(s),file=sys.stderr); continue
        t=x['Headlines'].replace('\r',' ').replace('\n',' ')
        out.append((d,t))
    return out
for lang,docs in (('fi',fi_docs()),('en',en_docs())):
    inp=''.join(t+'\n' for _,t in docs)
    p=subprocess.run([BIN,'-q','terms','--lang',lang,'--json'],input=inp.encode(),capture_output=True,check=True)
    res=json.loads(p.stdout)
    assert len(res)==len(docs),(len(res),len(docs))
    with open(f'docs_{lang}.jsonl','w') as f:
        for (d,t),r in zip(docs,res):
            keys=sorted({k['key'] for k in r['terms']})
            f.write(json.dumps({'date':d.isoformat(),'week':(d-datetime.timedelta(days=d.weekday())).isoformat(),'keys':keys},ensure_ascii=False)+'\n')
    print(lang,len(docs),min(d for d,_ in docs),max(d for d,_ in docs))
