// user gates (expanded by the front end), inv @, broadcast, partial measurement
qubit a[3];
qubit r;
param theta;
gate layer(t) u, v { ry(t) u; cx u, v; rz(t / 2) v; }
h a;
for i in range(3) { layer(theta * (i + 1)) a[i], r; }
inv @ layer(theta) a[0], a[1];
inv @ s r;
measure r, a[0];
